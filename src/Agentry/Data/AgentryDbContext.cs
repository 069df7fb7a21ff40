using Agentry.Agents;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Data;

/// <summary>
/// The one database model. Provider-specific subclasses (SQLite today, PostgreSQL next) carry their own migrations;
/// handlers depend on this base type only. Table and column names are snake_case so SQL reads the same on both.
/// </summary>
public abstract class AgentryDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<Conversation> Conversations => Set<Conversation>();
    public DbSet<Message> Messages => Set<Message>();
    public DbSet<StoredAgent> Agents => Set<StoredAgent>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Observability.AnalyticsBucket> AnalyticsBuckets => Set<Observability.AnalyticsBucket>();
    public DbSet<Observability.ErrorGroup> ErrorGroups => Set<Observability.ErrorGroup>();
    public DbSet<Approval> Approvals => Set<Approval>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var model = modelBuilder;
        model.Entity<Conversation>(c =>
        {
            c.ToTable("conversations");
            c.HasKey(x => x.Id);
            c.Property(x => x.Id).HasColumnName("id").HasMaxLength(40);
            c.Property(x => x.AgentId).HasColumnName("agent_id").HasMaxLength(64);
            c.Property(x => x.UserId).HasColumnName("user_id").HasMaxLength(128);
            c.Property(x => x.Title).HasColumnName("title").HasMaxLength(200);
            c.Property(x => x.Metadata).HasColumnName("metadata");
            c.Property(x => x.CreatedAt).HasColumnName("created_at");
            c.Property(x => x.UpdatedAt).HasColumnName("updated_at");
            c.Property(x => x.LastSequence).HasColumnName("last_sequence").IsConcurrencyToken();
            c.Property(x => x.OwnerKeyId).HasColumnName("owner_key_id").HasMaxLength(40);
            c.Property(x => x.PersonalityOverride).HasColumnName("personality_override");
            c.HasIndex(x => new { x.OwnerKeyId, x.Id }).HasDatabaseName("ix_conversations_owner");
            c.HasIndex(x => new { x.UserId, x.Id }).HasDatabaseName("ix_conversations_user");
            c.HasIndex(x => new { x.AgentId, x.Id }).HasDatabaseName("ix_conversations_agent");
        });

        model.Entity<Message>(m =>
        {
            m.ToTable("messages");
            m.HasKey(x => x.Id);
            m.Property(x => x.Id).HasColumnName("id").HasMaxLength(40);
            m.Property(x => x.ConversationId).HasColumnName("conversation_id").HasMaxLength(40);
            m.Property(x => x.Sequence).HasColumnName("sequence");
            m.Property(x => x.Role).HasColumnName("role").HasMaxLength(16);
            m.Property(x => x.AgentId).HasColumnName("agent_id").HasMaxLength(64);
            m.Property(x => x.Content).HasColumnName("content");
            m.Property(x => x.Model).HasColumnName("model").HasMaxLength(200);
            m.Property(x => x.InputTokens).HasColumnName("input_tokens");
            m.Property(x => x.OutputTokens).HasColumnName("output_tokens");
            m.Property(x => x.LatencyMs).HasColumnName("latency_ms");
            m.Property(x => x.FinishReason).HasColumnName("finish_reason").HasMaxLength(32);
            m.Property(x => x.Status).HasColumnName("status").HasMaxLength(16);
            m.Property(x => x.Metadata).HasColumnName("metadata");
            m.Property(x => x.CreatedAt).HasColumnName("created_at");
            // History is always read as "the last N of one conversation", so this index keeps a turn's cost flat as conversations grow.
            m.HasIndex(x => new { x.ConversationId, x.Sequence }).IsUnique().HasDatabaseName("ux_messages_conversation_sequence");
            m.HasOne<Conversation>().WithMany().HasForeignKey(x => x.ConversationId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<StoredAgent>(a =>
        {
            a.ToTable("agents");
            a.HasKey(x => x.Id);
            a.Property(x => x.Id).HasColumnName("id").HasMaxLength(64);
            a.Property(x => x.Definition).HasColumnName("definition");
            a.Property(x => x.CreatedAt).HasColumnName("created_at");
            a.Property(x => x.UpdatedAt).HasColumnName("updated_at");
        });

        model.Entity<Approval>(a =>
        {
            a.ToTable("approvals");
            a.HasKey(x => x.Id);
            a.Property(x => x.Id).HasColumnName("id").HasMaxLength(40);
            a.Property(x => x.ConversationId).HasColumnName("conversation_id").HasMaxLength(40);
            a.Property(x => x.AgentId).HasColumnName("agent_id").HasMaxLength(64);
            a.Property(x => x.ToolName).HasColumnName("tool_name").HasMaxLength(128);
            a.Property(x => x.CallId).HasColumnName("call_id").HasMaxLength(128);
            a.Property(x => x.Arguments).HasColumnName("arguments");
            a.Property(x => x.RuleId).HasColumnName("rule_id").HasMaxLength(64);
            a.Property(x => x.Status).HasColumnName("status").HasMaxLength(16);
            a.Property(x => x.CreatedAt).HasColumnName("created_at");
            a.Property(x => x.DecidedAt).HasColumnName("decided_at");
            a.Property(x => x.DecidedBy).HasColumnName("decided_by").HasMaxLength(64);
            a.Property(x => x.Note).HasColumnName("note").HasMaxLength(1000);
            a.HasIndex(x => new { x.ConversationId, x.Status }).HasDatabaseName("ix_approvals_conversation_status");
            a.HasIndex(x => new { x.Status, x.Id }).HasDatabaseName("ix_approvals_status");
            a.HasOne<Conversation>().WithMany().HasForeignKey(x => x.ConversationId).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<Observability.ErrorGroup>(g =>
        {
            g.ToTable("error_groups");
            g.HasKey(x => x.Fingerprint);
            g.Property(x => x.Fingerprint).HasColumnName("fingerprint").HasMaxLength(16);
            g.Property(x => x.Kind).HasColumnName("kind").HasMaxLength(16);
            g.Property(x => x.Type).HasColumnName("type").HasMaxLength(300);
            g.Property(x => x.Frames).HasColumnName("frames").HasMaxLength(1000);
            g.Property(x => x.Count).HasColumnName("count");
            g.Property(x => x.FirstSeen).HasColumnName("first_seen");
            g.Property(x => x.LastSeen).HasColumnName("last_seen");
            g.Property(x => x.SampleTraceId).HasColumnName("sample_trace_id").HasMaxLength(64);
            g.Property(x => x.LastMessage).HasColumnName("last_message");
        });

        model.Entity<Observability.AnalyticsBucket>(b =>
        {
            b.ToTable("analytics_buckets");
            b.HasKey(x => new { x.Day, x.Dimension, x.Value });
            b.Property(x => x.Day).HasColumnName("day").HasMaxLength(10);
            b.Property(x => x.Dimension).HasColumnName("dimension").HasMaxLength(16);
            b.Property(x => x.Value).HasColumnName("value").HasMaxLength(300);
            b.Property(x => x.Requests).HasColumnName("requests");
            b.Property(x => x.Errors).HasColumnName("errors");
            b.Property(x => x.InputTokens).HasColumnName("input_tokens");
            b.Property(x => x.OutputTokens).HasColumnName("output_tokens");
            b.Property(x => x.CostUsd).HasColumnName("cost_usd");
            b.Property(x => x.Latency).HasColumnName("latency");
        });

        model.Entity<ApiKey>(k =>
        {
            k.ToTable("api_keys");
            k.HasKey(x => x.Id);
            k.Property(x => x.Id).HasColumnName("id").HasMaxLength(40);
            k.Property(x => x.Name).HasColumnName("name").HasMaxLength(100);
            k.Property(x => x.Prefix).HasColumnName("prefix").HasMaxLength(16);
            k.Property(x => x.Hash).HasColumnName("hash").HasMaxLength(64);
            k.Property(x => x.Scopes).HasColumnName("scopes").HasMaxLength(200);
            k.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            k.Property(x => x.RequestsPerMinute).HasColumnName("requests_per_minute");
            k.Property(x => x.ConcurrentRequests).HasColumnName("concurrent_requests");
            k.Property(x => x.TokensPerMinute).HasColumnName("tokens_per_minute");
            k.Property(x => x.TokensPerDay).HasColumnName("tokens_per_day");
            k.Property(x => x.CreatedAt).HasColumnName("created_at");
            k.Property(x => x.LastUsedAt).HasColumnName("last_used_at");
            k.Property(x => x.RevokedAt).HasColumnName("revoked_at");
            k.HasIndex(x => x.Hash).IsUnique().HasDatabaseName("ux_api_keys_hash");
        });

        model.Entity<AuditEvent>(e =>
        {
            e.ToTable("audit_events");
            e.HasKey(x => x.Id);
            // Ids are assigned by the single writer because each row's hash covers its id.
            e.Property(x => x.Id).HasColumnName("id").ValueGeneratedNever();
            e.Property(x => x.Time).HasColumnName("time");
            e.Property(x => x.Actor).HasColumnName("actor").HasMaxLength(64);
            e.Property(x => x.ClientIp).HasColumnName("client_ip").HasMaxLength(64);
            e.Property(x => x.Action).HasColumnName("action").HasMaxLength(64);
            e.Property(x => x.Target).HasColumnName("target").HasMaxLength(200);
            e.Property(x => x.Outcome).HasColumnName("outcome").HasMaxLength(64);
            e.Property(x => x.TraceId).HasColumnName("trace_id").HasMaxLength(64);
            e.Property(x => x.Count).HasColumnName("count");
            e.Property(x => x.Detail).HasColumnName("detail");
            e.Property(x => x.PreviousHash).HasColumnName("previous_hash").HasMaxLength(64);
            e.Property(x => x.Hash).HasColumnName("hash").HasMaxLength(64);
            e.HasIndex(x => new { x.Action, x.Id }).HasDatabaseName("ix_audit_events_action");
            e.HasIndex(x => new { x.Actor, x.Id }).HasDatabaseName("ix_audit_events_actor");
        });
    }
}
