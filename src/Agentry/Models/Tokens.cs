using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace Agentry.Models;

/// <summary>
/// Token counts with the o200k_base encoding (GPT-4o and its successors), shipped inside the NuGet package so nothing is
/// downloaded. Other models tokenise differently (sometimes by more than a few percent): the count reserves budget and
/// caps what is sent, while the usage a provider reports stays the figure that is charged and stored.
/// </summary>
public static class Tokens
{
    /// <summary>What a chat message costs beyond its text (role and separators), as OpenAI documents for its chat format.</summary>
    const int PerMessage = 4;

    static readonly TiktokenTokenizer O200k = TiktokenTokenizer.CreateForEncoding("o200k_base");

    /// <summary>Loads the vocabulary (about 200,000 entries) at start-up rather than in the first request.</summary>
    public static void Load() => O200k.CountTokens("Agentry");

    public static int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : O200k.CountTokens(text);

    /// <summary>
    /// A message as the model receives it: its text, and the names, arguments and results of tool calls. Not cached here:
    /// a turn keeps the counts of its own messages (<see cref="Conversations.Turn.TokensOf(ChatMessage)"/>) — a
    /// process-wide weak table did, and each entry was a GC handle every collection scanned until the message died.
    /// </summary>
    public static int Count(ChatMessage message)
    {
        var tokens = PerMessage;
        foreach (var content in message.Contents)
        {
            tokens += content switch
            {
                TextContent text => Count(text.Text),
                FunctionCallContent call => Count(call.Name) + (call.Arguments is { } arguments ? Count(System.Text.Json.JsonSerializer.Serialize(arguments)) : 0),
                FunctionResultContent result => Count(result.Result?.ToString()),
                _ => 0,
            };
        }
        return tokens;
    }

    /// <summary>A tool's declaration as sent with each request: name, description and parameter schema.</summary>
    public static int Count(AITool tool) =>
        Count(tool.Name) + Count(tool.Description) + (tool is AIFunctionDeclaration function ? Count(function.JsonSchema.GetRawText()) : 0);
}
