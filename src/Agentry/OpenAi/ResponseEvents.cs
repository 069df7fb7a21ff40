using System.Text;
using System.Text.Json;
using Agentry.Conversations;
using Microsoft.AspNetCore.Mvc;

namespace Agentry.OpenAi;

/// <summary>One event of a response's stream: its type and its JSON (which carries the type and sequence_number too).</summary>
public sealed record ResponseEvent(long Sequence, string Type, string Data);

/// <summary>
/// Turns a turn's events into the Responses API's typed events, numbered from 0, and keeps the response object they
/// describe. Each reply of an agent is a message item (opened by its first text, closed by a tool call, a handoff or
/// the end); the client's function calls are function_call items; Agentry's own orchestration (tool calls, handoffs,
/// rules, approvals, workflow steps) is told by <c>agentry.*</c> events, which standard clients ignore.
/// </summary>
public sealed class ResponseEvents(ResponseObject initial, JsonSerializerOptions agentryJson)
{
    readonly List<ResponseItem> _output = [];
    readonly List<ResponseEvent> _pending = [];
    long _sequence = -1;
    string? _openId;
    readonly StringBuilder _openText = new();
    bool _sawText;

    public ResponseObject Current { get; private set; } = initial;

    /// <summary>The events that end a response's stream.</summary>
    public static bool IsFinal(string type) => type is "response.completed" or "response.failed" or "response.incomplete" or "response.cancelled";

    /// <summary>The first events: created (and queued for a background response), then in progress.</summary>
    public IReadOnlyList<ResponseEvent> Start()
    {
        Emit("response.created", new() { ["response"] = Current });
        if (Current.Status == ResponseObject.Queued) Emit("response.queued", new() { ["response"] = Current });
        Current = Current with { Status = ResponseObject.InProgress };
        Emit("response.in_progress", new() { ["response"] = Current });
        return Drain();
    }

    public IReadOnlyList<ResponseEvent> On(TurnEvent turnEvent)
    {
        switch (turnEvent.Type)
        {
            case TurnEvent.Delta:
                AppendText(((TextDelta)turnEvent.Data).Text);
                break;
            case TurnEvent.MessageCompleted:
                break; // the reply is already told; the final response carries what the turn stored
            case TurnEvent.TurnCompleted:
                Complete((TurnDto)turnEvent.Data);
                break;
            case TurnEvent.Error:
                Fail((ProblemDetails)turnEvent.Data);
                break;
            default:
                CloseMessage();
                Emit("agentry." + turnEvent.Type, new() { ["data"] = JsonSerializer.SerializeToElement(turnEvent.Data, turnEvent.Data.GetType(), agentryJson) });
                break;
        }
        return Drain();
    }

    /// <summary>The run was cancelled (POST …/cancel) or its turn ended without saying how: the response ends so.</summary>
    public IReadOnlyList<ResponseEvent> End(string status, ResponseError? error)
    {
        if (Current.IsFinished) return [];
        CloseMessage();
        Current = Current with { Status = status, Output = [.. _output], Error = error };
        Emit(status == ResponseObject.Cancelled ? "response.cancelled" : "response.failed", new() { ["response"] = Current });
        return Drain();
    }

    void AppendText(string text)
    {
        if (text.Length == 0) return;
        var index = _output.Count;
        if (_openId is null)
        {
            _openId = Data.Ids.New(Data.Ids.MessagePrefix);
            _openText.Clear();
            Emit("response.output_item.added", new() { ["output_index"] = index, ["item"] = ResponseItem.Message(_openId, ResponseObject.InProgress, "assistant", "") with { Content = [] } });
            Emit("response.content_part.added", new() { ["item_id"] = _openId, ["output_index"] = index, ["content_index"] = 0, ["part"] = new ResponseContent("output_text", "", []) });
        }
        _openText.Append(text);
        _sawText = true;
        Emit("response.output_text.delta", new() { ["item_id"] = _openId, ["output_index"] = index, ["content_index"] = 0, ["delta"] = text, ["logprobs"] = Array.Empty<object>() });
    }

    void CloseMessage()
    {
        if (_openId is null) return;
        var index = _output.Count;
        var text = _openText.ToString();
        Emit("response.output_text.done", new() { ["item_id"] = _openId, ["output_index"] = index, ["content_index"] = 0, ["text"] = text, ["logprobs"] = Array.Empty<object>() });
        Emit("response.content_part.done", new() { ["item_id"] = _openId, ["output_index"] = index, ["content_index"] = 0, ["part"] = new ResponseContent("output_text", text, []) });
        var item = ResponseItem.Message(_openId, ResponseObject.Completed, "assistant", text);
        Emit("response.output_item.done", new() { ["output_index"] = index, ["item"] = item });
        _output.Add(item);
        _openId = null;
    }

    void Complete(TurnDto turn)
    {
        // Text no delta carried (a rule's answer to a blocked message, a held call's notice) is one message, whole.
        if (!_sawText && ChatCompletionTurn.Text(turn) is { Length: > 0 } whole) AppendText(whole);
        CloseMessage();
        foreach (var call in turn.ToolCalls ?? [])
        {
            var index = _output.Count;
            var item = ResponseItem.FunctionCall("fc_" + call.Id, call.Id, call.Name, call.Arguments);
            Emit("response.output_item.added", new() { ["output_index"] = index, ["item"] = item with { Status = ResponseObject.InProgress, Arguments = "" } });
            Emit("response.function_call_arguments.delta", new() { ["item_id"] = item.Id, ["output_index"] = index, ["delta"] = call.Arguments });
            Emit("response.function_call_arguments.done", new() { ["item_id"] = item.Id, ["output_index"] = index, ["name"] = call.Name, ["arguments"] = call.Arguments });
            Emit("response.output_item.done", new() { ["output_index"] = index, ["item"] = item });
            _output.Add(item);
        }
        var interrupted = turn.Status == TurnDto.Interrupted;
        Current = Current with
        {
            Status = interrupted ? ResponseObject.Incomplete : ResponseObject.Completed,
            IncompleteDetails = interrupted ? new ResponseIncomplete(turn.Messages[^1].FinishReason ?? "interrupted") : null,
            Output = [.. _output],
            Usage = ResponseUsage.Of(turn.Usage.InputTokens, turn.Usage.OutputTokens),
            Conversation = new ResponseConversation(turn.ConversationId),
            Agentry = ChatCompletionTurn.Facts(turn),
        };
        Emit(interrupted ? "response.incomplete" : "response.completed", new() { ["response"] = Current });
    }

    void Fail(ProblemDetails problem)
    {
        CloseMessage();
        var error = OpenAiErrors.From(problem).Error;
        Current = Current with { Status = ResponseObject.Failed, Output = [.. _output], Error = new ResponseError(error.Code, error.Message) };
        Emit("response.failed", new() { ["response"] = Current });
    }

    void Emit(string type, Dictionary<string, object?> fields)
    {
        var sequence = ++_sequence;
        _pending.Add(new ResponseEvent(sequence, type, Json(type, sequence, fields)));
    }

    /// <summary>An event's JSON: its type and sequence_number, then its fields.</summary>
    public static string Json(string type, long sequence, Dictionary<string, object?> fields)
    {
        var data = new Dictionary<string, object?> { ["type"] = type, ["sequence_number"] = sequence };
        foreach (var (key, value) in fields) data[key] = value;
        return JsonSerializer.Serialize(data, OpenAiErrors.Json);
    }

    List<ResponseEvent> Drain()
    {
        var drained = _pending.ToList();
        _pending.Clear();
        return drained;
    }
}
