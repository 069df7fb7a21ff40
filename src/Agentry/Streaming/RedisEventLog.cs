using System.Runtime.CompilerServices;
using Agentry.Data;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Agentry.Streaming;

/// <summary>
/// Streams kept in Redis Streams, so a client can resume on any instance: entry ids are the events' own numbers
/// (<c>0-N</c>), each append renews the key's expiry to the resume window, and a publish on the stream's channel wakes
/// live readers (who also look every 250 ms, in case a notice is lost). While Redis is unreachable the events are kept in
/// this process instead, and said so in the log.
/// </summary>
public sealed class RedisEventLog(SharedState shared, InProcessEventLog local, IOptions<StreamingOptions> options) : IEventLog
{
    RedisKey Key(string stream) => $"{shared.Prefix}events:{stream}";
    RedisChannel Channel(string stream) => RedisChannel.Literal($"{shared.Prefix}events:{stream}");

    public async ValueTask AppendAsync(string stream, LoggedEvent item)
    {
        try
        {
            var db = shared.Database!;
            var key = Key(stream);
            await db.StreamAddAsync(key, [new("t", item.Type), new("d", item.Data), new("l", item.Last ? 1 : 0)], $"0-{item.Sequence}",
                maxLength: options.Value.MaxEventsPerStream, useApproximateMaxLength: true);
            await db.KeyExpireAsync(key, options.Value.ResumeWindow);
            await shared.Connection!.GetSubscriber().PublishAsync(Channel(stream), item.Sequence);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "resumable streams");
            await local.AppendAsync(stream, item);
        }
    }

    public async IAsyncEnumerable<LoggedEvent> ReadAsync(string stream, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var wake = new SemaphoreSlim(0);
        ChannelMessageQueue? notices = null;
        try
        {
            try
            {
                notices = await shared.Connection!.GetSubscriber().SubscribeAsync(Channel(stream));
                notices.OnMessage(_ => wake.Release());
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                shared.FellBack(e, "resumable streams");
            }
            var idle = 0;
            while (true)
            {
                StreamEntry[]? entries;
                try
                {
                    entries = await shared.Database!.StreamRangeAsync(Key(stream), $"0-{after + 1}", "+", count: 500);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    shared.FellBack(e, "resumable streams");
                    entries = null;
                }
                if (entries is null)
                {
                    await foreach (var item in local.ReadAsync(stream, after, cancellationToken)) yield return item;
                    yield break;
                }
                foreach (var entry in entries)
                {
                    var item = new LoggedEvent(long.Parse(entry.Id.ToString().AsSpan(2), System.Globalization.CultureInfo.InvariantCulture),
                        entry["t"].ToString(), entry["d"].ToString(), (int)entry["l"] == 1);
                    yield return item;
                    after = item.Sequence;
                    if (item.Last) yield break;
                }
                if (entries.Length > 0)
                {
                    idle = 0;
                    continue;
                }
                await wake.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
                // A stream whose writer died without a last event expires (the resume window after its last append): then the reader ends.
                if (++idle % 20 == 0 && !await ExistsAsync(stream)) yield break;
            }
        }
        finally
        {
            if (notices is not null) await notices.UnsubscribeAsync();
            wake.Dispose();
        }
    }

    public async ValueTask<long> LastSequenceAsync(string stream)
    {
        try
        {
            var last = await shared.Database!.StreamRangeAsync(Key(stream), "-", "+", count: 1, messageOrder: Order.Descending);
            return last.Length == 0 ? await local.LastSequenceAsync(stream)
                : long.Parse(last[0].Id.ToString().AsSpan(2), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "resumable streams");
            return await local.LastSequenceAsync(stream);
        }
    }

    public async ValueTask<bool> ExistsAsync(string stream)
    {
        try
        {
            return await shared.Database!.KeyExistsAsync(Key(stream)) || await local.ExistsAsync(stream);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "resumable streams");
            return await local.ExistsAsync(stream);
        }
    }
}
