using System.Text.Json;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Agentry.Knowledge;

public static class KnowledgeApi
{
    public static IEndpointRouteBuilder MapKnowledgeApi(this IEndpointRouteBuilder app)
    {
        var read = app.MapGroup("/v1/knowledge").WithTags("Knowledge").RequireAuthorization(Policies.ReadKnowledge);
        var write = app.MapGroup("/v1/knowledge").WithTags("Knowledge").RequireAuthorization(Policies.KnowledgeWrite);

        read.MapGet("/", ListBases).WithName("ListKnowledgeBases").WithSummary("Knowledge bases, with their documents by status and their passages.");
        write.MapDelete("/{kb}", RemoveBase).WithName("RemoveKnowledgeBase").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Remove a knowledge base: every document, passage and vector of it.");
        read.MapGet("/{kb}/documents", ListDocuments).WithName("ListKnowledgeDocuments")
            .WithSummary("A knowledge base's documents by name, a page at a time, each with its indexing status.");
        write.MapPost("/{kb}/documents", Add).WithName("AddKnowledgeDocument")
            .Produces<KnowledgeDocumentDto>(StatusCodes.Status202Accepted).ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .AddOpenApiOperationTransformer(DescribeUpload)
            .WithSummary("Add a document (multipart/form-data with a 'file' field, or JSON {name, text}); the same name again replaces it. 202 while it is indexed, 200 when the file is unchanged.");
        read.MapGet("/{kb}/documents/{documentId}", GetDocument).WithName("GetKnowledgeDocument").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One document with the passages that are searched now.");
        write.MapPut("/{kb}/documents/{documentId}", Replace).WithName("ReplaceKnowledgeDocument")
            .Produces<KnowledgeDocumentDto>(StatusCodes.Status202Accepted).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .AddOpenApiOperationTransformer(DescribeUpload)
            .WithSummary("Replace a document with a new version: its passages are swapped in one step once it is indexed.");
        write.MapDelete("/{kb}/documents/{documentId}", RemoveDocument).WithName("RemoveKnowledgeDocument").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Remove a document, its passages and their vectors.");
        read.MapPost("/{kb}/search", Search).Validated().WithName("SearchKnowledge").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The passages that answer a question, best first (full-text and vector search fused); none when nothing is about it.");
        return app;
    }

    /// <summary>A document name: 1-255 printable characters, no NUL.</summary>
    public static void ValidateName(ValidationErrors errors, string field, string? name)
    {
        errors.Required(field, name, 255);
        if (name is not null && name.Any(char.IsControl)) errors.Add(field, "Must not contain control characters.");
    }

    static async Task<Results<Ok<Page<KnowledgeBaseDto>>, ValidationProblem>> ListBases(int? limit, string? cursor, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var rows = await db.KnowledgeDocuments.AsNoTracking()
            .Where(d => cursor == null || string.Compare(d.KnowledgeBase, cursor) > 0)
            .GroupBy(d => d.KnowledgeBase)
            .Select(g => new
            {
                Name = g.Key, Documents = g.Count(), Chunks = g.Sum(d => d.ChunkCount),
                Queued = g.Count(d => d.Status == KnowledgeStatus.Queued || d.Status == KnowledgeStatus.Indexing),
                Failed = g.Count(d => d.Status == KnowledgeStatus.Failed), UpdatedAt = g.Max(d => d.UpdatedAt),
            })
            .OrderBy(b => b.Name).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, b => new KnowledgeBaseDto(b.Name, b.Documents, b.Chunks, b.Queued, b.Failed, b.UpdatedAt), b => b.Name));
    }

    static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> RemoveBase(string kb, KnowledgeLibrary library, HttpContext http, CancellationToken ct)
    {
        if (!ValidationErrors.IsSlug(kb)) return Problems.Validation("kb", "Must be 1-64 characters of a-z, 0-9 and '-'.");
        return await library.RemoveBaseAsync(kb, AuditActor.From(http), ct) > 0 ? TypedResults.NoContent() : BaseNotFound(kb);
    }

    static async Task<Results<Ok<Page<KnowledgeDocumentDto>>, ValidationProblem>> ListDocuments(
        string kb, int? limit, string? cursor, string? status, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        string[] statuses = [KnowledgeStatus.Queued, KnowledgeStatus.Indexing, KnowledgeStatus.Indexed, KnowledgeStatus.Failed];
        if (status is not null && !statuses.Contains(status)) return Problems.Validation("status", $"Must be one of {string.Join(", ", statuses)}.");
        var rows = await db.KnowledgeDocuments.AsNoTracking()
            .Where(d => d.KnowledgeBase == kb && (status == null || d.Status == status) && (cursor == null || string.Compare(d.Name, cursor) > 0))
            .OrderBy(d => d.Name).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, KnowledgeDocumentDto.From, d => d.Name));
    }

    static async Task<Results<Ok<KnowledgeDocumentDetailDto>, ProblemHttpResult>> GetDocument(string kb, string documentId, AgentryDbContext db, CancellationToken ct)
    {
        var document = await db.KnowledgeDocuments.AsNoTracking().FirstOrDefaultAsync(d => d.Id == documentId && d.KnowledgeBase == kb, ct);
        if (document is null) return DocumentNotFound(kb, documentId);
        var chunks = await db.KnowledgeChunks.AsNoTracking().Where(c => c.DocumentId == documentId && c.Version == document.IndexedVersion).OrderBy(c => c.Ordinal)
            .Select(c => new KnowledgeChunkDto(c.Id, c.Ordinal, c.SectionPath, c.Text, c.CharStart, c.CharEnd, c.Tokens)).ToListAsync(ct);
        return TypedResults.Ok(new KnowledgeDocumentDetailDto(KnowledgeDocumentDto.From(document), chunks));
    }

    static async Task<Results<Ok<KnowledgeDocumentDto>, Accepted<KnowledgeDocumentDto>, ValidationProblem, ProblemHttpResult>> Add(
        string kb, HttpContext http, KnowledgeLibrary library, IOptions<KnowledgeOptions> options, IOptions<JsonOptions> json, CancellationToken ct)
    {
        if (!ValidationErrors.IsSlug(kb)) return Problems.Validation("kb", "Must be 1-64 characters of a-z, 0-9 and '-'.");
        var upload = await ReadUploadAsync(http, options.Value, json.Value.SerializerOptions, requireName: true, ct);
        if (upload.Problem is { } problem) return problem;
        return await StoreAsync(() => library.AddAsync(kb, upload.Upload!, KnowledgeSources.Api, AuditActor.From(http), ct), kb);
    }

    static async Task<Results<Ok<KnowledgeDocumentDto>, Accepted<KnowledgeDocumentDto>, ValidationProblem, ProblemHttpResult>> Replace(
        string kb, string documentId, HttpContext http, KnowledgeLibrary library, AgentryDbContext db, IOptions<KnowledgeOptions> options, IOptions<JsonOptions> json,
        CancellationToken ct)
    {
        var document = await db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.Id == documentId && d.KnowledgeBase == kb, ct);
        if (document is null) return DocumentNotFound(kb, documentId);
        var upload = await ReadUploadAsync(http, options.Value, json.Value.SerializerOptions, requireName: false, ct);
        if (upload.Problem is { } problem) return problem;
        // A replacement keeps the document's name; a file without a recognisable extension is read in the document's format.
        var file = upload.Upload!;
        var format = file.Format ?? DocumentReader.FormatOf(file.Name) ?? document.Format;
        return await StoreAsync(() => library.ReplaceAsync(document, file with { Format = format }, KnowledgeSources.Api, AuditActor.From(http), ct), kb);
    }

    static async Task<Results<Ok<KnowledgeDocumentDto>, Accepted<KnowledgeDocumentDto>, ValidationProblem, ProblemHttpResult>> StoreAsync(
        Func<Task<(KnowledgeDocument Document, KnowledgeChange Change)>> store, string kb)
    {
        try
        {
            var (document, change) = await store();
            var dto = KnowledgeDocumentDto.From(document);
            return change == KnowledgeChange.Unchanged ? TypedResults.Ok(dto) : TypedResults.Accepted($"/v1/knowledge/{kb}/documents/{document.Id}", dto);
        }
        catch (DocumentUnreadableException e)
        {
            return e.Problem switch
            {
                DocumentProblem.UnsupportedFormat => TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, type: ProblemTypes.DocumentFormatUnsupported,
                    title: "Unsupported document format", detail: e.Message),
                DocumentProblem.TooLarge => TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, type: ProblemTypes.PayloadTooLarge, title: "Document too large",
                    detail: e.Message),
                _ => TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, type: ProblemTypes.DocumentUnreadable, title: "Document cannot be read",
                    detail: e.Message),
            };
        }
    }

    static async Task<Results<NoContent, ProblemHttpResult>> RemoveDocument(string kb, string documentId, AgentryDbContext db, KnowledgeLibrary library, HttpContext http,
        CancellationToken ct)
    {
        var document = await db.KnowledgeDocuments.AsNoTracking().FirstOrDefaultAsync(d => d.Id == documentId && d.KnowledgeBase == kb, ct);
        if (document is null) return DocumentNotFound(kb, documentId);
        await library.RemoveAsync(document, AuditActor.From(http), ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<Ok<KnowledgeSearchResult>, ProblemHttpResult>> Search(
        string kb, KnowledgeSearchRequest request, KnowledgeSearch search, AgentryDbContext db, CancellationToken ct)
    {
        if (!await db.KnowledgeDocuments.AnyAsync(d => d.KnowledgeBase == kb, ct)) return BaseNotFound(kb);
        var hits = await search.SearchAsync([kb], request.Query, request.TopK ?? 5, ct);
        return TypedResults.Ok(new KnowledgeSearchResult(hits.Select(KnowledgeSearchHitDto.From).ToList()));
    }

    /// <summary>
    /// The file of a multipart/form-data body (field <c>file</c>; optional <c>name</c> and <c>format</c> fields), or a JSON
    /// <see cref="KnowledgeTextRequest"/>. Bodies may be as large as Knowledge:MaxUploadBytes here, not just Api:MaxRequestBodyBytes.
    /// </summary>
    static async Task<(KnowledgeUpload? Upload, Results<Ok<KnowledgeDocumentDto>, Accepted<KnowledgeDocumentDto>, ValidationProblem, ProblemHttpResult>? Problem)> ReadUploadAsync(
        HttpContext http, KnowledgeOptions options, JsonSerializerOptions json, bool requireName, CancellationToken ct)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = options.MaxUploadBytes + 64 * 1024;
        var request = http.Request;
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            if (form.Files.GetFile("file") is not { } file) return (null, Problems.Validation("file", "Required: the document as a file field named 'file'."));
            var name = form["name"].FirstOrDefault() is { Length: > 0 } given ? given : Path.GetFileName(file.FileName);
            var errors = new ValidationErrors();
            ValidateName(errors, "name", name);
            var declared = form["format"].FirstOrDefault();
            if (declared is { Length: > 0 } && !DocumentReader.Formats.Contains(declared)) errors.Add("format", $"Must be one of {string.Join(", ", DocumentReader.Formats)}.");
            if (!errors.IsEmpty) return (null, Problems.Validation(errors.ToDictionary()));
            var format = declared is { Length: > 0 } ? declared : DocumentReader.FormatOf(name) is null ? DocumentReader.FormatOfMediaType(file.ContentType) : null;
            using var content = new MemoryStream((int)Math.Min(file.Length, int.MaxValue));
            await file.CopyToAsync(content, ct);
            return (new KnowledgeUpload(name, format, content.ToArray()), null);
        }
        if (request.HasJsonContentType())
        {
            KnowledgeTextRequest? body;
            try
            {
                body = await request.ReadFromJsonAsync<KnowledgeTextRequest>(json, ct);
            }
            catch (JsonException e)
            {
                throw new BadHttpRequestException("The request body is not valid JSON.", StatusCodes.Status400BadRequest, e);
            }
            if (body is null) return (null, Problems.Validation("$", "Send a JSON object with name and text."));
            var errors = new ValidationErrors();
            body.Validate(errors);
            if (!errors.IsEmpty) return (null, Problems.Validation(errors.ToDictionary()));
            var format = body.Format ?? (DocumentReader.FormatOf(body.Name) is null ? DocumentReader.PlainText : null);
            return (new KnowledgeUpload(body.Name, format, System.Text.Encoding.UTF8.GetBytes(body.Text)), null);
        }
        return (null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, type: ProblemTypes.UnsupportedMediaType, title: "Unsupported media type",
            detail: "Send the document as multipart/form-data (a 'file' field) or as application/json ({\"name\", \"text\"})."));
    }

    /// <summary>The two bodies the upload endpoints take, which the generator cannot see through a handler that reads the request itself.</summary>
    static async Task DescribeUpload(OpenApiOperation operation, Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var text = await context.GetOrCreateSchemaAsync(typeof(KnowledgeTextRequest), cancellationToken: ct);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Required = new HashSet<string> { "file" },
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["file"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = "The document: Markdown, plain text, HTML or PDF." },
                            ["name"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Its name in the knowledge base (default: the file's name)." },
                            ["format"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "markdown, text, html or pdf (default: from the name's extension)." },
                        },
                    },
                },
                ["application/json"] = new() { Schema = text },
            },
        };
    }

    static ProblemHttpResult BaseNotFound(string kb) =>
        Problems.NotFound(ProblemTypes.KnowledgeBaseNotFound, $"No knowledge base named '{kb}' has documents. See GET /v1/knowledge.");

    static ProblemHttpResult DocumentNotFound(string kb, string documentId) =>
        Problems.NotFound(ProblemTypes.DocumentNotFound, $"No document '{documentId}' in the knowledge base '{kb}'. See GET /v1/knowledge/{kb}/documents.");
}
