using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

public sealed record EvalSuiteRequest(string Yaml) : IValidatable
{
    public const int MaxLength = 512 * 1024;

    public void Validate(ValidationErrors errors)
    {
        errors.Required("yaml", Yaml, MaxLength);
        errors.NoNul("yaml", Yaml);
    }
}

/// <summary>A suite in lists: where it comes from and what it holds (or why it cannot be used).</summary>
public sealed record EvalSuiteDto(string Id, string Source, string? Description, int Cases, IReadOnlyList<string> CaseIds);

public sealed record EvalSuiteText(string Id, string Source, string Yaml);

public sealed record EvalSuiteList(IReadOnlyList<EvalSuiteDto> Suites, IReadOnlyList<string> Errors);

/// <summary>A real conversation as a draft case (YAML to paste under a suite's <c>cases</c>).</summary>
public sealed record CaseDraftDto(string ConversationId, string Yaml);

public static class EvalsApi
{
    public static RouteGroupBuilder MapEvalsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/evals").WithTags("Evals");
        group.MapPost("/runs", StartRun).Validated().WithName("StartEvalRun").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithSummary("Run eval suites in the background (202 with the run; progress and the report from GET /v1/evals/runs/{id}; eval.run.completed on the webhook).");
        group.MapGet("/runs", ListRuns).WithName("ListEvalRuns").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("Eval runs, newest first, with their status, progress and pass rate.");
        group.MapGet("/runs/{runId}", GetRun).WithName("GetEvalRun").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One eval run: its progress while it runs, its whole report once finished.");
        group.MapGet("/suites", ListSuites).WithName("ListEvalSuites").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("The suites a run can use (files of the evals folder and suites created here), and any that cannot be read, with why.");
        group.MapGet("/suites/{suiteId}", GetSuite).WithName("GetEvalSuite").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One suite's YAML.");
        group.MapPost("/suites", SaveSuite).Validated().WithName("SaveEvalSuite").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Create or replace a suite from its YAML (422 names each error's line; 409 when a file defines that suite).");
        group.MapDelete("/suites/{suiteId}", DeleteSuite).WithName("DeleteEvalSuite").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Delete a suite created through the API.");
        group.MapPost("/cases/from-conversation/{conversationId}", DraftCase).WithName("DraftEvalCase").RequireAuthorization(Policies.ReadConversations)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A conversation as a draft eval case: its messages as turns, what happened as expectations to edit into what should.");
        return group;
    }

    static async Task<Results<Accepted<EvalRunDto>, ProblemHttpResult>> StartRun(EvalRunRequest request, EvalRuns runs, AuditLog audit, AgentryDbContext db,
        HttpContext http, CancellationToken ct)
    {
        var (plan, errors) = await runs.PlanAsync(request, fromCommandLine: false, ct);
        if (plan is null) return Unusable("The run cannot start", errors);
        if (!runs.TryClaim())
        {
            http.Response.Headers.RetryAfter = "30";
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, type: ProblemTypes.ConcurrencyLimited, title: "Eval runs busy",
                detail: "As many eval runs as this instance allows (Evals:MaxRunning) are running; start this one when one has finished.");
        }
        var caller = http.GetCaller()!;
        EvalRun run;
        try
        {
            run = await runs.CreateAsync(request, plan, caller.KeyId, CancellationToken.None);
        }
        catch
        {
            runs.Release();
            throw;
        }
        runs.Start(run, plan, caller); // from here the run owns its place; a client that leaves does not orphan it
        await audit.RecordAsync(db, AuditActor.From(http), AuditActions.EvalRunStarted, $"eval:{run.Id}", "success",
            new { suites = plan.Suites.Select(s => s.Id), models = plan.Models.Select(EvalRunner.Label), plan.Repeat, run.CasesTotal }, CancellationToken.None);
        return TypedResults.Accepted($"/v1/evals/runs/{run.Id}", EvalRunDto.From(run, withReport: false));
    }

    static async Task<Results<Ok<Page<EvalRunDto>>, ValidationProblem>> ListRuns(int? limit, string? cursor, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var query = db.EvalRuns.AsNoTracking();
        if (cursor is not null) query = query.Where(r => string.Compare(r.Id, cursor) < 0);
        var rows = await query.OrderByDescending(r => r.Id).Take(take + 1)
            .Select(r => new EvalRun
            {
                Id = r.Id, Status = r.Status, Request = r.Request, CasesTotal = r.CasesTotal, CasesDone = r.CasesDone, PassRate = r.PassRate, Error = r.Error,
                CreatedAt = r.CreatedAt, FinishedAt = r.FinishedAt,
            })
            .ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, r => EvalRunDto.From(r, withReport: false), r => r.Id));
    }

    static async Task<Results<Ok<EvalRunDto>, ProblemHttpResult>> GetRun(string runId, AgentryDbContext db, CancellationToken ct) =>
        await db.EvalRuns.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct) is { } run
            ? TypedResults.Ok(EvalRunDto.From(run, withReport: true))
            : Problems.NotFound(ProblemTypes.EvalRunNotFound, $"There is no eval run '{runId}'. See GET /v1/evals/runs.");

    static async Task<Ok<EvalSuiteList>> ListSuites(EvalSuites suites, CancellationToken ct)
    {
        var (all, errors) = await suites.LoadAllAsync(ct);
        return TypedResults.Ok(new EvalSuiteList(all.Select(s => new EvalSuiteDto(s.Id, s.Source, s.Description, s.Cases.Count, s.Cases.Select(c => c.Id).ToList())).ToList(), errors));
    }

    static async Task<Results<Ok<EvalSuiteText>, ProblemHttpResult>> GetSuite(string suiteId, EvalSuites suites, AgentryDbContext db, CancellationToken ct)
    {
        if (suites.Folder is { } folder && Directory.Exists(folder))
            foreach (var path in Agents.AgentFiles.AgentFilesIn(folder))
            {
                var text = await File.ReadAllTextAsync(path, ct);
                if (EvalSuiteReader.Read(text, Path.GetFileNameWithoutExtension(path).ToLowerInvariant(), Path.GetFileName(path), []) is { } suite && suite.Id == suiteId)
                    return TypedResults.Ok(new EvalSuiteText(suiteId, Path.GetFileName(path), text));
            }
        return await db.EvalSuites.AsNoTracking().FirstOrDefaultAsync(s => s.Id == suiteId, ct) is { } stored
            ? TypedResults.Ok(new EvalSuiteText(stored.Id, EvalSuite.FromApi, stored.Yaml))
            : Problems.NotFound(ProblemTypes.EvalSuiteNotFound, $"There is no suite '{suiteId}'. See GET /v1/evals/suites.");
    }

    static async Task<Results<Created<EvalSuiteDto>, Ok<EvalSuiteDto>, ProblemHttpResult>> SaveSuite(
        EvalSuiteRequest request, EvalSuites suites, AgentryDbContext db, AuditLog audit, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        var errors = new List<string>();
        var suite = EvalSuiteReader.Read(request.Yaml, "", EvalSuite.FromApi, errors);
        if (suite is not null && suite.Id.Length == 0) errors.Add("line 1: a suite created through the API names itself ('suite: my-suite').");
        if (suite is not null && errors.Count == 0) await suites.CheckAsync(suite, errors, ct);
        if (suite is null || errors.Count > 0) return Unusable("The suite cannot be read", errors);
        var (existing, _) = await suites.LoadAllAsync(ct);
        if (existing.FirstOrDefault(s => s.Id == suite.Id && s.Source != EvalSuite.FromApi) is { } file)
            return Problems.Conflict(ProblemTypes.Conflict, $"Suite '{suite.Id}' is defined in {file.Source} in the evals folder; edit the file instead.");
        var now = time.GetUtcNow();
        var stored = await db.EvalSuites.FirstOrDefaultAsync(s => s.Id == suite.Id, ct);
        var created = stored is null;
        if (stored is null) db.EvalSuites.Add(stored = new StoredEvalSuite { Id = suite.Id, Yaml = "", CreatedAt = now });
        stored.Yaml = request.Yaml;
        stored.UpdatedAt = now;
        stored.AuthorKeyId = http.GetCaller()?.KeyId;
        audit.Stage(db, AuditActor.From(http), AuditActions.EvalSuiteSaved, $"eval-suite:{suite.Id}", detail: new { cases = suite.Cases.Count, created });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return Problems.Conflict(ProblemTypes.Conflict, $"Suite '{suite.Id}' was saved by another request at the same time; try again.");
        }
        var dto = new EvalSuiteDto(suite.Id, EvalSuite.FromApi, suite.Description, suite.Cases.Count, suite.Cases.Select(c => c.Id).ToList());
        return created ? TypedResults.Created($"/v1/evals/suites/{suite.Id}", dto) : TypedResults.Ok(dto);
    }

    static async Task<Results<NoContent, ProblemHttpResult>> DeleteSuite(string suiteId, AgentryDbContext db, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var deleted = await db.EvalSuites.Where(s => s.Id == suiteId).ExecuteDeleteAsync(ct);
        if (deleted == 0) return Problems.NotFound(ProblemTypes.EvalSuiteNotFound, $"There is no suite '{suiteId}' created through the API (a file's suite is deleted with its file).");
        await audit.RecordAsync(db, AuditActor.From(http), AuditActions.EvalSuiteSaved, $"eval-suite:{suiteId}", "deleted", null, ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<Ok<CaseDraftDto>, ProblemHttpResult>> DraftCase(string conversationId, AgentryDbContext db, HttpContext http,
        IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var conversation = await db.Conversations.AsNoTracking().VisibleTo(http.GetCaller(), security.Value).FirstOrDefaultAsync(c => c.Id == conversationId, ct);
        if (conversation is null) return Problems.ConversationNotFound(conversationId).ToResult();
        // A case is a short script: the first 50 turns' worth of messages is plenty to edit from.
        var messages = await db.Messages.AsNoTracking().Where(m => m.ConversationId == conversationId).OrderBy(m => m.Sequence).Take(500).ToListAsync(ct);
        return TypedResults.Ok(new CaseDraftDto(conversationId, CaseDraft.Write(conversation, messages)));
    }

    static ProblemHttpResult Unusable(string title, List<string> errors) =>
        TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, type: ProblemTypes.EvalSuiteInvalid, title: title,
            detail: errors.FirstOrDefault() ?? title, extensions: new Dictionary<string, object?> { ["suiteErrors"] = errors });
}
