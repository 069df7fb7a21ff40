using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Agentry.Approvals;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Operations.Transfers;

/// <summary>
/// Everything stored about one user (their conversations with every message, approval, tool call and summary, and their
/// memories), as one JSON document: for
/// moving the user to another installation, or handing it to them when they ask for their data. Ids are kept, so an
/// import is idempotent; API keys are not (they belong to the installation), so imported conversations have no owner
/// key and are seen by admin and read-all keys until a new one is given.
/// </summary>
public sealed record UserDataExport(
    string Format, string UserId, DateTimeOffset ExportedAt, string ExportedBy, int ConversationCount, int MessageCount,
    IReadOnlyList<ExportedConversation> Conversations, IReadOnlyList<ExportedMemory>? Memories = null)
{
    public const string CurrentFormat = "agentry.user-data/1";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };
}

public sealed record ExportedConversation(
    string Id, string AgentId, string? Title, JsonNode? Metadata, JsonNode? PersonalityOverride, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    IReadOnlyList<ExportedMessage> Messages, IReadOnlyList<ExportedApproval> Approvals, IReadOnlyList<ExportedToolCall>? ToolCalls = null,
    ExportedSummary? Summary = null);

/// <summary>A tool call of the ledger, as the record of what was done for the user (an import does not replay it).</summary>
public sealed record ExportedToolCall(string Id, string AgentId, string Tool, string CallId, JsonNode? Arguments, decimal? Amount, string Outcome, string? MessageId,
    DateTimeOffset CreatedAt);

public sealed record ExportedSummary(string Text, long ThroughSequence, int Messages, string Method, DateTimeOffset UpdatedAt);

public sealed record ExportedMemory(
    string Id, string? AgentId, string Text, string Author, string? ConversationId, string? MessageId, DateTimeOffset CreatedAt, string? SupersededBy,
    DateTimeOffset? SupersededAt);

public sealed record ExportedMessage(
    string Id, long Sequence, string Role, string? AgentId, string Content, string? Model, int? InputTokens, int? OutputTokens, int? LatencyMs,
    string? FinishReason, string Status, JsonNode? Metadata, DateTimeOffset CreatedAt)
{
    /// <summary>The version of the agent that wrote it (absent in files exported before versions existed).</summary>
    public string? AgentVersion { get; init; }
}

public sealed record ExportedApproval(
    string Id, string AgentId, string ToolName, string CallId, JsonNode? Arguments, string RuleId, string Status, DateTimeOffset CreatedAt,
    DateTimeOffset? DecidedAt, string? DecidedBy, string? Note);

/// <summary>What an import did: conversations added, and those skipped because this installation already has them.</summary>
public sealed record UserDataImportResult(string UserId, int Imported, int Messages, IReadOnlyList<string> AlreadyPresent);

public sealed class UserDataTransfer(AgentryDbContext db, AuditLog audit, TimeProvider time)
{
    /// <summary>The user's data, oldest conversation first; null when nothing is stored for the user.</summary>
    public async Task<UserDataExport?> ExportAsync(string userId, AuditActor actor, CancellationToken cancellationToken)
    {
        var conversations = await db.Conversations.AsNoTracking().Where(c => c.UserId == userId)
            .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).ToListAsync(cancellationToken);
        var memories = await db.Memories.AsNoTracking().Where(m => m.UserId == userId).OrderBy(m => m.Id).ToListAsync(cancellationToken);
        if (conversations.Count == 0 && memories.Count == 0) return null;
        var ids = conversations.Select(c => c.Id).ToList();
        var messages = (await db.Messages.AsNoTracking().Where(m => ids.Contains(m.ConversationId)).ToListAsync(cancellationToken))
            .ToLookup(m => m.ConversationId);
        var approvals = (await db.Approvals.AsNoTracking().Where(a => ids.Contains(a.ConversationId)).ToListAsync(cancellationToken))
            .ToLookup(a => a.ConversationId);
        var toolCalls = (await db.ToolCalls.AsNoTracking().Where(t => ids.Contains(t.ConversationId) || t.UserId == userId).ToListAsync(cancellationToken))
            .ToLookup(t => t.ConversationId);
        var summaries = await db.ConversationSummaries.AsNoTracking().Where(s => ids.Contains(s.ConversationId)).ToDictionaryAsync(s => s.ConversationId, cancellationToken);

        var exported = conversations.Select(c => new ExportedConversation(
            c.Id, c.AgentId, c.Title, Parse(c.Metadata), Parse(c.PersonalityOverride), c.CreatedAt, c.UpdatedAt,
            messages[c.Id].OrderBy(m => m.Sequence).Select(m => new ExportedMessage(
                m.Id, m.Sequence, m.Role, m.AgentId, m.Content, m.Model, m.InputTokens, m.OutputTokens, m.LatencyMs, m.FinishReason, m.Status,
                Parse(m.Metadata), m.CreatedAt)
            { AgentVersion = m.AgentVersion }).ToList(),
            approvals[c.Id].OrderBy(a => a.CreatedAt).Select(a => new ExportedApproval(
                a.Id, a.AgentId, a.ToolName, a.CallId, Parse(a.Arguments), a.RuleId, a.Status, a.CreatedAt, a.DecidedAt, a.DecidedBy, a.Note)).ToList(),
            toolCalls[c.Id].OrderBy(t => t.Id).Select(t => new ExportedToolCall(
                t.Id, t.AgentId, t.Tool, t.CallId, Parse(t.Arguments), t.Amount, t.Outcome, t.MessageId, t.CreatedAt)).ToList(),
            summaries.GetValueOrDefault(c.Id) is { } summary ? new ExportedSummary(summary.Text, summary.ThroughSequence, summary.Messages, summary.Method, summary.UpdatedAt) : null))
            .ToList();
        // The log names the user by hash: it outlives the user's data if they are forgotten.
        await audit.RecordAsync(db, actor, AuditActions.UserDataExported, $"user:{Memory.UserHash.Of(userId)}",
            detail: new { conversations = exported.Count, messages = exported.Sum(c => c.Messages.Count), memories = memories.Count }, cancellationToken: cancellationToken);
        return new UserDataExport(UserDataExport.CurrentFormat, userId, time.GetUtcNow(), OperationsExtensions.Version,
            exported.Count, exported.Sum(c => c.Messages.Count), exported,
            memories.Select(m => new ExportedMemory(m.Id, m.AgentId, m.Text, m.Author, m.ConversationId, m.MessageId, m.CreatedAt, m.SupersededBy, m.SupersededAt)).ToList());
    }

    /// <summary>Adds the export's conversations in one transaction; conversations this installation already has are left as they are.</summary>
    public async Task<UserDataImportResult> ImportAsync(UserDataExport export, AuditActor actor, CancellationToken cancellationToken)
    {
        if (export.Format != UserDataExport.CurrentFormat)
            throw new InvalidDataException($"The file's format is '{export.Format}'; this version reads '{UserDataExport.CurrentFormat}'.");
        if (string.IsNullOrWhiteSpace(export.UserId)) throw new InvalidDataException("The file names no user.");
        if (export.Conversations is null || export.Conversations.Any(c => c?.Id is null || c.AgentId is null || c.Messages is null || c.Approvals is null))
            throw new InvalidDataException("The file is incomplete: every conversation needs id, agentId, messages and approvals.");
        if (export.Conversations.SelectMany(c => c.Messages).Any(m => m?.Id is null || m.Role is null || m.Content is null || m.Status is null))
            throw new InvalidDataException("The file is incomplete: every message needs id, role, content and status.");
        if (export.Conversations.SelectMany(c => c.Approvals).Any(a => a?.Id is null || a.AgentId is null || a.ToolName is null || a.CallId is null || a.RuleId is null || a.Status is null))
            throw new InvalidDataException("The file is incomplete: every approval needs id, agentId, toolName, callId, ruleId and status.");
        var ids = export.Conversations.Select(c => c.Id).ToList();
        var present = await db.Conversations.Where(c => ids.Contains(c.Id)).Select(c => c.Id).ToListAsync(cancellationToken);

        var added = 0;
        var messages = 0;
        foreach (var c in export.Conversations.Where(c => !present.Contains(c.Id)))
        {
            db.Conversations.Add(new Conversation
            {
                Id = c.Id, AgentId = c.AgentId, UserId = export.UserId, Title = c.Title, Metadata = c.Metadata?.ToJsonString(),
                PersonalityOverride = c.PersonalityOverride?.ToJsonString(), CreatedAt = c.CreatedAt, UpdatedAt = c.UpdatedAt,
                LastSequence = c.Messages.Count == 0 ? 0 : c.Messages.Max(m => m.Sequence),
            });
            foreach (var m in c.Messages)
            {
                db.Messages.Add(new Message
                {
                    Id = m.Id, ConversationId = c.Id, Sequence = m.Sequence, Role = m.Role, AgentId = m.AgentId, Content = m.Content, Model = m.Model,
                    InputTokens = m.InputTokens, OutputTokens = m.OutputTokens, LatencyMs = m.LatencyMs, FinishReason = m.FinishReason,
                    Status = m.Status, Metadata = m.Metadata?.ToJsonString(), CreatedAt = m.CreatedAt, AgentVersion = m.AgentVersion,
                });
            }
            foreach (var a in c.Approvals)
            {
                db.Approvals.Add(new Approval
                {
                    Id = a.Id, ConversationId = c.Id, AgentId = a.AgentId, ToolName = a.ToolName, CallId = a.CallId,
                    Arguments = a.Arguments?.ToJsonString() ?? "{}", RuleId = a.RuleId, Status = a.Status, CreatedAt = a.CreatedAt,
                    DecidedAt = a.DecidedAt, DecidedBy = a.DecidedBy, Note = a.Note,
                });
            }
            added++;
            messages += c.Messages.Count;
        }
        // Memories come without vectors (they are the installation's, by its embedding model): recalled, ranked after those with one.
        var memoryIds = (export.Memories ?? []).Select(m => m.Id).ToList();
        var presentMemories = await db.Memories.Where(m => memoryIds.Contains(m.Id)).Select(m => m.Id).ToListAsync(cancellationToken);
        var memories = 0;
        foreach (var m in (export.Memories ?? []).Where(m => m.Id is not null && m.Text is not null && !presentMemories.Contains(m.Id)))
        {
            db.Memories.Add(new Memory.UserMemory
            {
                Id = m.Id, UserId = export.UserId, AgentId = m.AgentId, Text = m.Text, Author = m.Author ?? Memory.MemoryAuthors.Operator,
                ConversationId = m.ConversationId, MessageId = m.MessageId, CreatedAt = m.CreatedAt, SupersededBy = m.SupersededBy, SupersededAt = m.SupersededAt,
            });
            memories++;
        }
        audit.Stage(db, actor, AuditActions.UserDataImported, $"user:{Memory.UserHash.Of(export.UserId)}",
            detail: new { conversations = added, messages, memories, alreadyPresent = present.Count, exportedAt = export.ExportedAt });
        try
        {
            await db.SaveChangesAsync(cancellationToken); // one transaction: all of the user's conversations, or none
        }
        catch (DbUpdateException e)
        {
            // A message or approval id that exists here under another conversation, a value too long for its column, …
            throw new InvalidDataException($"Nothing was imported: the database refused the data ({(e.InnerException ?? e).Message.Split('\n')[0]}).", e);
        }
        return new UserDataImportResult(export.UserId, added, messages, present);
    }

    static JsonNode? Parse(string? json) => json is null ? null : JsonNode.Parse(json);
}
