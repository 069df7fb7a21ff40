using Agentry.Api;
using Agentry.Operations;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Agentry.OpenAi;

public static class OpenAiExtensions
{
    /// <summary>OpenAI's error shape on its paths, and the same shape in the OpenAPI document.</summary>
    public static IHostApplicationBuilder AddOpenAi(this IHostApplicationBuilder builder)
    {
        // First among the problem writers: on the OpenAI paths it answers instead of the problem+json writer.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IProblemDetailsWriter, OpenAiErrorWriter>());
        builder.Services.AddOptions<ResponsesOptions>().BindSettings(ResponsesOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ResponseRuns>();
        builder.Services.AddHostedService<OrphanedResponses>();
        builder.Services.Configure<OpenApiOptions>("v1", o =>
        {
            o.AddOperationTransformer((operation, context, _) =>
            {
                if (!OpenAiErrors.Serves("/" + context.Description.RelativePath)) return Task.CompletedTask;
                foreach (var (_, response) in operation.Responses ?? [])
                {
                    if (response.Content is not { } content) continue;
                    if (content.Remove("application/problem+json"))
                        content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(nameof(OpenAiError), context.Document) };
                    if (content.TryGetValue("text/event-stream", out var events))
                        events.Schema = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String,
                            Description = "Server-Sent Events as OpenAI sends them: data: {chat.completion.chunk} lines, then data: [DONE]; a failure after the start is a data: {\"error\":…} line.",
                        };
                }
                return Task.CompletedTask;
            });
            o.AddDocumentTransformer(async (document, context, ct) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                if (!document.Components.Schemas.ContainsKey(nameof(OpenAiError)))
                    document.Components.Schemas[nameof(OpenAiError)] = await context.GetOrCreateSchemaAsync(typeof(OpenAiError), null, ct);
            });
        });
        return builder;
    }
}
