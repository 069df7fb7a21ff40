using Agentry.Agents;
using Agentry.Approvals;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Data;

/// <summary>
/// The one database model. Provider-specific subclasses (SQLite today, PostgreSQL next) carry their own migrations;
/// handlers depend on this base type only. Table and column names are snake_case (EFCore.NamingConventions, applied where
/// the provider is chosen) so SQL reads the same on both.
/// </summary>
public abstract class AgentryDbContext(DbContextOptions options) : DbContext(options), Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.IDataProtectionKeyContext
{
    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<StoredAgent> Agents => Set<StoredAgent>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Observability.AnalyticsBucket> AnalyticsBuckets => Set<Observability.AnalyticsBucket>();
    public DbSet<Observability.ErrorGroup> ErrorGroups => Set<Observability.ErrorGroup>();
    public DbSet<Approval> Approvals => Set<Approval>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<AuditOutboxEntry> AuditOutbox => Set<AuditOutboxEntry>();
    public DbSet<IdempotentRequest> IdempotentRequests => Set<IdempotentRequest>();
    public DbSet<Memory.StoredEmbedding> Embeddings => Set<Memory.StoredEmbedding>();
    public DbSet<Mcp.StoredMcpServer> McpServers => Set<Mcp.StoredMcpServer>();
    public DbSet<Tools.ToolCall> ToolCalls => Set<Tools.ToolCall>();
    public DbSet<Mcp.McpToolPin> McpToolPins => Set<Mcp.McpToolPin>();
    public DbSet<Knowledge.KnowledgeDocument> KnowledgeDocuments => Set<Knowledge.KnowledgeDocument>();
    public DbSet<Knowledge.KnowledgeChunk> KnowledgeChunks => Set<Knowledge.KnowledgeChunk>();
    public DbSet<Memory.UserMemory> Memories => Set<Memory.UserMemory>();
    public DbSet<ConversationSummary> ConversationSummaries => Set<ConversationSummary>();
    public DbSet<OpenAi.StoredResponse> Responses => Set<OpenAi.StoredResponse>();
    public DbSet<AgentVersion> AgentVersions => Set<AgentVersion>();
    public DbSet<Evals.EvalRun> EvalRuns => Set<Evals.EvalRun>();
    public DbSet<Evals.StoredEvalSuite> EvalSuites => Set<Evals.StoredEvalSuite>();
    /// <summary>Data Protection's key ring (it encrypts MCP server secrets): in the database so all instances share it and backups carry it.</summary>
    public DbSet<Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.DataProtectionKey> DataProtectionKeys => Set<Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.DataProtectionKey>();

    static readonly (string Field, int Length)[] AuditFieldLengths =
        [("Actor", 64), ("ClientIp", 64), ("Action", 64), ("Target", 200), ("Outcome", 64), ("TraceId", 64)];

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var model = modelBuilder;
        model.Entity<Conversation>(c =>
        {
            c.HasKey(x => x.Id);
            c.Property(x => x.Id).HasMaxLength(40);
            c.Property(x => x.AgentId).HasMaxLength(64);
            c.Property(x => x.UserId).HasMaxLength(128);
            c.Property(x => x.Title).HasMaxLength(200);
            c.Property(x => x.LastSequence).IsConcurrencyToken();
            c.Property(x => x.OwnerKeyId).HasMaxLength(40);
            c.Property(x => x.EvalRunId).HasMaxLength(40);
            c.HasIndex(x => x.EvalRunId).HasDatabaseName("ix_conversations_eval_run"); // GET /v1/conversations?evalRunId=
            c.HasIndex(x => new { x.OwnerKeyId, x.Id }).HasDatabaseName("ix_conversations_owner");
            c.HasIndex(x => new { x.UserId, x.Id }).HasDatabaseName("ix_conversations_user");
            c.HasIndex(x => new { x.AgentId, x.Id }).HasDatabaseName("ix_conversations_agent");
        });

        model.Entity<Memory.StoredEmbedding>(e =>
        {
            e.HasKey(x => new { x.Collection, x.Model, x.Id }); // a new embedding model re-embeds beside the old vectors
            e.Property(x => x.Collection).HasMaxLength(200);
            e.Property(x => x.Id).HasMaxLength(40);
            e.Property(x => x.Model).HasMaxLength(200);
        });

        model.Entity<Message>(m =>
        {
            m.HasKey(x => x.Id);
            m.Property(x => x.Id).HasMaxLength(40);
            m.Property(x => x.ConversationId).HasMaxLength(40);
            m.Property(x => x.Role).HasMaxLength(16);
            m.Property(x => x.AgentId).HasMaxLength(64);
            m.Property(x => x.Model).HasMaxLength(200);
            m.Property(x => x.FinishReason).HasMaxLength(32);
            m.Property(x => x.Status).HasMaxLength(16);
            m.Property(x => x.AgentVersion).HasMaxLength(12);
            // History is always read as "the last N of one conversation", so this index keeps a turn's cost flat as conversations grow.
            m.HasIndex(x => new { x.ConversationId, x.Sequence }).IsUnique().HasDatabaseName("ux_messages_conversation_sequence");
            m.HasOne<Conversation>().WithMany().HasForeignKey(x => x.ConversationId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<StoredAgent>(a =>
        {
            a.HasKey(x => x.Id);
            a.Property(x => x.Id).HasMaxLength(64);
        });

        model.Entity<AgentVersion>(v =>
        {
            v.HasKey(x => new { x.AgentId, x.Version }); // two instances recording the same change: one insert wins
            v.Property(x => x.AgentId).HasMaxLength(64);
            v.Property(x => x.Hash).HasMaxLength(12);
            v.Property(x => x.Source).HasMaxLength(16);
            v.Property(x => x.AuthorKeyId).HasMaxLength(40);
        });

        model.Entity<Evals.EvalRun>(r =>
        {
            r.HasKey(x => x.Id);
            r.Property(x => x.Id).HasMaxLength(40);
            r.Property(x => x.Status).HasMaxLength(16);
            r.Property(x => x.KeyId).HasMaxLength(40);
        });

        model.Entity<Evals.StoredEvalSuite>(s =>
        {
            s.HasKey(x => x.Id);
            s.Property(x => x.Id).HasMaxLength(64);
            s.Property(x => x.AuthorKeyId).HasMaxLength(40);
        });

        model.Entity<Mcp.StoredMcpServer>(m =>
        {
            m.HasKey(x => x.Name);
            m.Property(x => x.Name).HasMaxLength(32);
        });

        model.Entity<Mcp.McpToolPin>(p =>
        {
            p.HasKey(x => x.Server);
            p.Property(x => x.Server).HasMaxLength(32);
            p.Property(x => x.Hash).HasMaxLength(64);
            p.Property(x => x.PendingHash).HasMaxLength(64);
            p.Property(x => x.PinnedBy).HasMaxLength(64);
        });

        model.Entity<Knowledge.KnowledgeDocument>(d =>
        {
            d.HasKey(x => x.Id);
            d.Property(x => x.Id).HasMaxLength(40);
            d.Property(x => x.KnowledgeBase).HasMaxLength(64);
            d.Property(x => x.Name).HasMaxLength(255);
            d.Property(x => x.Format).HasMaxLength(16);
            d.Property(x => x.ContentHash).HasMaxLength(64);
            d.Property(x => x.Status).HasMaxLength(16);
            d.Property(x => x.Error).HasMaxLength(1000);
            d.Property(x => x.EmbeddingModel).HasMaxLength(200);
            d.Property(x => x.Source).HasMaxLength(16);
            d.Property(x => x.AddedBy).HasMaxLength(40);
            d.HasIndex(x => new { x.KnowledgeBase, x.Name }).IsUnique().HasDatabaseName("ux_knowledge_documents_name");
            // The indexer's queue: the oldest queued (or abandoned) document first.
            d.HasIndex(x => new { x.Status, x.UpdatedAt }).HasDatabaseName("ix_knowledge_documents_status");
        });

        model.Entity<Knowledge.KnowledgeChunk>(c =>
        {
            c.HasKey(x => x.Id);
            c.Property(x => x.Id).ValueGeneratedOnAdd(); // SQLite's rowid: also the chunk's row in knowledge_fts
            c.Property(x => x.DocumentId).HasMaxLength(40);
            c.Property(x => x.KnowledgeBase).HasMaxLength(64);
            c.Property(x => x.SectionPath).HasMaxLength(1000);
            c.HasIndex(x => new { x.DocumentId, x.Version }).HasDatabaseName("ix_knowledge_chunks_document");
            c.HasIndex(x => x.KnowledgeBase).HasDatabaseName("ix_knowledge_chunks_base");
            c.HasOne<Knowledge.KnowledgeDocument>().WithMany().HasForeignKey(x => x.DocumentId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<Memory.UserMemory>(m =>
        {
            m.HasKey(x => x.Id);
            m.Property(x => x.Id).HasMaxLength(40);
            m.Property(x => x.UserId).HasMaxLength(128);
            m.Property(x => x.AgentId).HasMaxLength(64);
            m.Property(x => x.Text).HasMaxLength(Memory.UserMemories.MaxTextLength);
            m.Property(x => x.Author).HasMaxLength(16);
            m.Property(x => x.ConversationId).HasMaxLength(40);
            m.Property(x => x.MessageId).HasMaxLength(40);
            m.Property(x => x.KeyId).HasMaxLength(40);
            m.Property(x => x.SupersededBy).HasMaxLength(40);
            m.HasIndex(x => new { x.UserId, x.CreatedAt }).HasDatabaseName("ix_memories_user"); // recall reads one user's rows
        });

        model.Entity<ConversationSummary>(s =>
        {
            s.HasKey(x => x.ConversationId);
            s.Property(x => x.ConversationId).HasMaxLength(40);
            s.Property(x => x.Method).HasMaxLength(200);
            s.HasOne<Conversation>().WithMany().HasForeignKey(x => x.ConversationId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<OpenAi.StoredResponse>(r =>
        {
            r.HasKey(x => x.Id);
            r.Property(x => x.Id).HasMaxLength(40);
            r.Property(x => x.OwnerKeyId).HasMaxLength(40);
            r.Property(x => x.ConversationId).HasMaxLength(40);
            r.Property(x => x.Status).HasMaxLength(20);
            // No foreign key: a response is stored before the first turn of its new conversation commits. Deleting a
            // conversation deletes its responses (Privacy/ConversationRows.cs).
            r.Property(x => x.UserId).HasMaxLength(128);
            r.HasIndex(x => x.ConversationId);
            r.HasIndex(x => x.UserId);
            r.HasIndex(x => x.UpdatedAt);
            r.HasIndex(x => new { x.Status, x.LeaseExpiresAt });
        });

        model.Entity<Tools.ToolCall>(t =>
        {
            t.HasKey(x => x.Id);
            t.Property(x => x.Id).HasMaxLength(40);
            t.Property(x => x.ConversationId).HasMaxLength(40);
            t.Property(x => x.UserId).HasMaxLength(128);
            t.Property(x => x.KeyId).HasMaxLength(40);
            t.Property(x => x.AgentId).HasMaxLength(64);
            t.Property(x => x.Tool).HasMaxLength(200);
            t.Property(x => x.CallId).HasMaxLength(128);
            t.Property(x => x.Outcome).HasMaxLength(32);
            t.Property(x => x.MessageId).HasMaxLength(40);
            t.Property(x => x.Amount).HasPrecision(28, 8);
            // The policy's three totals: per conversation, per user per day, per key per day (Tools/ToolLedger.cs).
            t.HasIndex(x => new { x.Tool, x.ConversationId }).HasDatabaseName("ix_tool_calls_conversation");
            t.HasIndex(x => new { x.Tool, x.UserId, x.CreatedAt }).HasDatabaseName("ix_tool_calls_user");
            t.HasIndex(x => new { x.Tool, x.KeyId, x.CreatedAt }).HasDatabaseName("ix_tool_calls_key");
        });

        model.Entity<Approval>(a =>
        {
            a.HasKey(x => x.Id);
            a.Property(x => x.Id).HasMaxLength(40);
            a.Property(x => x.ConversationId).HasMaxLength(40);
            a.Property(x => x.AgentId).HasMaxLength(64);
            a.Property(x => x.ToolName).HasMaxLength(200);
            a.Property(x => x.CallId).HasMaxLength(128);
            a.Property(x => x.RuleId).HasMaxLength(250); // tool-policy:mcp:SERVER/TOOL
            a.Property(x => x.Status).HasMaxLength(16);
            a.Property(x => x.DecidedBy).HasMaxLength(64);
            a.Property(x => x.Note).HasMaxLength(1000);
            a.HasIndex(x => new { x.ConversationId, x.Status }).HasDatabaseName("ix_approvals_conversation_status");
            a.HasIndex(x => new { x.Status, x.Id }).HasDatabaseName("ix_approvals_status");
            a.HasOne<Conversation>().WithMany().HasForeignKey(x => x.ConversationId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<Observability.ErrorGroup>(g =>
        {
            g.HasKey(x => x.Fingerprint);
            g.Property(x => x.Fingerprint).HasMaxLength(16);
            g.Property(x => x.Kind).HasMaxLength(16);
            g.Property(x => x.Type).HasMaxLength(300);
            g.Property(x => x.Frames).HasMaxLength(1000);
            g.Property(x => x.SampleTraceId).HasMaxLength(64);
        });

        model.Entity<Observability.AnalyticsBucket>(b =>
        {
            b.HasKey(x => new { x.Day, x.Dimension, x.Value });
            b.Property(x => x.Day).HasMaxLength(10);
            b.Property(x => x.Dimension).HasMaxLength(16);
            b.Property(x => x.Value).HasMaxLength(300);
        });

        model.Entity<ApiKey>(k =>
        {
            k.HasKey(x => x.Id);
            k.Property(x => x.Id).HasMaxLength(40);
            k.Property(x => x.Name).HasMaxLength(100);
            k.Property(x => x.Prefix).HasMaxLength(16);
            k.Property(x => x.Hash).HasMaxLength(64);
            k.Property(x => x.Scopes).HasMaxLength(200);
            k.HasIndex(x => x.Hash).IsUnique().HasDatabaseName("ux_api_keys_hash");
        });

        model.Entity<AuditEvent>(e =>
        {
            // Ids are assigned by the single writer because each row's hash covers its id.
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.PreviousHash).HasMaxLength(64);
            e.Property(x => x.Hash).HasMaxLength(64);
            e.HasIndex(x => new { x.Action, x.Id }).HasDatabaseName("ix_audit_events_action");
            e.HasIndex(x => new { x.Actor, x.Id }).HasDatabaseName("ix_audit_events_actor");
        });
        model.Entity<AuditOutboxEntry>().ToTable("audit_outbox");
        model.Entity<IdempotentRequest>(r =>
        {
            r.HasKey(x => new { x.Owner, x.Key });
            r.Property(x => x.Owner).HasMaxLength(40);
            r.Property(x => x.Key).HasMaxLength(200);
            r.Property(x => x.RequestHash).HasMaxLength(64);
            r.HasIndex(x => x.ExpiresAt).HasDatabaseName("ix_idempotent_requests_expires");
        });
        // A staged event and a chained one hold the same fields.
        foreach (var audited in new[] { typeof(AuditEvent), typeof(AuditOutboxEntry) })
            foreach (var (field, length) in AuditFieldLengths) model.Entity(audited).Property(field).HasMaxLength(length);

        // Keys keep EF's own constraint names (PK_table, FK_table_principal_column), which the Initial migration created:
        // the naming convention would rename them, and SQLite renames a constraint only by rebuilding its table.
        foreach (var entity in model.Model.GetEntityTypes())
        {
            var table = entity.GetTableName();
            entity.FindPrimaryKey()?.SetName($"PK_{table}");
            foreach (var foreignKey in entity.GetForeignKeys())
                foreignKey.SetConstraintName($"FK_{table}_{foreignKey.PrincipalEntityType.GetTableName()}_{string.Join('_', foreignKey.Properties.Select(p => p.GetColumnName()))}");
        }
    }
}
