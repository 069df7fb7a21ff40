using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

/// <summary>
/// Ends running turns when the service stops: after <see cref="ConversationOptions.ShutdownGrace"/> from SIGTERM, each
/// open turn is cancelled, stores what it produced as interrupted with reason <c>shutdown</c>, and a stream ends with an
/// <c>error</c> event, so the web server drains within its shutdown timeout instead of resetting connections.
/// </summary>
public sealed class TurnShutdown : IDisposable
{
    readonly CancellationTokenSource _stopping = new();
    readonly CancellationTokenRegistration _registration;

    public TurnShutdown(IHostApplicationLifetime lifetime, IOptions<ConversationOptions> options)
    {
        var grace = options.Value.ShutdownGrace;
        _registration = lifetime.ApplicationStopping.Register(() =>
        {
            if (grace <= TimeSpan.Zero) _stopping.Cancel();
            else _stopping.CancelAfter(grace);
        });
    }

    public CancellationToken Token => _stopping.Token;

    /// <summary>A new turn sent while the service shuts down: another instance (or this one, restarted) takes it.</summary>
    public static Api.ApiProblemException Refused() =>
        new(503, Api.ProblemTypes.ShuttingDown, "Service shutting down", "This instance is shutting down and takes no new turns; send the message again.")
        { RetryAfter = TimeSpan.FromSeconds(2) };

    public void Dispose()
    {
        _registration.Dispose();
        _stopping.Dispose();
    }
}
