using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Agentry.Conversations;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Agentry.Streaming;

/// <summary>
/// A streamed turn that survives its connection: the turn's events are pumped into the <see cref="IEventLog"/> by a
/// detached run, and every client (the first one, and one that reconnects with Last-Event-ID, on any instance when
/// Redis is configured) reads them from there, each with its number as the SSE id.
/// </summary>
public sealed class ResumableStreams(IEventLog log, DetachedRuns runs, IOptions<JsonOptions> json)
{
    /// <summary>The end of a stream: not an event for clients, it tells readers there is nothing more.</summary>
    const string EndMarker = "";

    /// <summary>Where the events of a native turn are kept: under the conversation's owner, so a reconnect is checked like a read of the conversation.</summary>
    public static string TurnStream(string? ownerKeyId, string conversationId, string turnId) => $"turn:{ownerKeyId}:{conversationId}:{turnId}";

    /// <summary>Pumps <paramref name="events"/> (its first already read when <paramref name="any"/>) into the log until the turn ends.</summary>
    public void Pump(string stream, IAsyncEnumerator<TurnEvent> events, bool any, IAsyncDisposable? owned = null)
    {
        runs.Start(async () =>
        {
            long sequence = 0;
            try
            {
                for (var more = any; more; more = await events.MoveNextAsync())
                    await log.AppendAsync(stream, new LoggedEvent(++sequence, events.Current.Type, Serialize(events.Current.Data)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The runner tells its own failures as error events; this is one it could not tell.
                var problem = Api.ApiExceptionHandler.Describe(e, out _);
                await log.AppendAsync(stream, new LoggedEvent(++sequence, TurnEvent.Error, Serialize(problem)));
                throw;
            }
            finally
            {
                await log.AppendAsync(stream, new LoggedEvent(++sequence, EndMarker, "", Last: true));
                await events.DisposeAsync();
                if (owned is not null) await owned.DisposeAsync();
            }
        });
    }

    /// <summary>The stream's events after <paramref name="after"/>, as SSE items with their ids, then live until the end.</summary>
    public async IAsyncEnumerable<SseItem<string>> ReadAsync(string stream, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var item in log.ReadAsync(stream, after, cancellationToken))
            if (item.Type != EndMarker)
                yield return new SseItem<string>(item.Data, item.Type) { EventId = item.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public ValueTask<bool> ExistsAsync(string stream) => log.ExistsAsync(stream);

    string Serialize(object data) => JsonSerializer.Serialize(data, data.GetType(), json.Value.SerializerOptions);
}
