using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Xunit.Abstractions;

namespace Agentry.Tests.Memory;

/// <summary>
/// How many times a turn goes to the database with memory and knowledge on: counted from EF Core's own diagnostic
/// events for the commands and commits made on the turn's trace.
/// </summary>
public sealed class TurnRoundTripTests(ITestOutputHelper output)
{
    sealed class CommandCounter : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        readonly List<IDisposable> _subscriptions = [];
        public ConcurrentDictionary<ActivityTraceId, ConcurrentQueue<string>> ByTrace { get; } = new();

        public CommandCounter() => _subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(this));

        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == Microsoft.EntityFrameworkCore.DbLoggerCategory.Name) lock (_subscriptions) _subscriptions.Add(listener.Subscribe(this));
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (Activity.Current is not { } activity) return;
            var what = value.Value switch
            {
                CommandExecutedEventData executed when value.Key == RelationalEventId.CommandExecuted.Name => executed.Command.CommandText.Split('\n')[0],
                TransactionEndEventData when value.Key == RelationalEventId.TransactionCommitted.Name => "COMMIT",
                _ => null,
            };
            if (what is not null) ByTrace.GetOrAdd(activity.TraceId, _ => new()).Enqueue(what);
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            lock (_subscriptions) foreach (var subscription in _subscriptions) subscription.Dispose();
        }
    }

    [Fact]
    public async Task A_turn_with_memory_and_knowledge_goes_to_the_database_at_most_five_times()
    {
        using var counter = new CommandCounter();
        await using var app = new AgentryApp();
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        var first = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Remember that my hub is the Hub Pro 2", agentId = "support", userId = "ivy" }));
        var conversation = (string)first["conversationId"]!;
        await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "How do I reset my router?", agentId = "support", conversationId = conversation }));

        // The measured turn: an existing conversation of a user with memories, an agent with knowledge and memory.
        // The request carries this activity's trace (HttpClient propagates it as traceparent); the server's commands run under it.
        using var measured = new Activity("measured-turn").SetIdFormat(ActivityIdFormat.W3C).Start();
        var trace = measured.TraceId;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat")
        {
            Content = JsonContent.Create(new { message = "And how do I reset the Wi-Fi password?", agentId = "support", conversationId = conversation }),
        };
        var turn = await Http.JsonAsync(await app.Client.SendAsync(request));
        measured.Stop();
        Assert.NotNull(turn["messages"]!.AsArray().Last()!["metadata"]?["memories"]); // memory was on
        Assert.NotNull(turn["messages"]!.AsArray().Last()!["metadata"]?["citations"]); // and knowledge

        var commands = counter.ByTrace.GetValueOrDefault(trace)?.ToList() ?? [];
        foreach (var command in commands) output.WriteLine(command);
        output.WriteLine($"database round trips in one turn with memory and knowledge: {commands.Count}");
        Assert.NotEmpty(commands);
        // PostgreSQL gets a save's statements in one batch (one round trip); SQLite runs each as its own call, in process.
        var saves = commands.Count(c => c.StartsWith("INSERT", StringComparison.Ordinal) || c.StartsWith("UPDATE", StringComparison.Ordinal));
        var roundTrips = TestDatabase.IsPostgres ? commands.Count : commands.Count - saves + 1;
        output.WriteLine($"round trips over a network (a save's statements batched, as PostgreSQL does): {roundTrips}");
        Assert.True(roundTrips <= 4, $"{roundTrips} round trips:\n{string.Join("\n", commands)}");
    }
}
