using System.Globalization;
using Agentry.Api;
using Agentry.Audit;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Requests per minute and requests in flight, per key (per client IP without a valid key). Every limited response
/// carries the IETF <c>RateLimit-Policy</c> and <c>RateLimit</c> headers; a rejection is a 429 problem with Retry-After.
/// Health probes are exempt, so a load balancer polling them never eats a client's budget.
/// </summary>
public sealed class RateLimitMiddleware(RequestDelegate next, IRateLimitStore store, IOptionsMonitor<RateLimitOptions> options, AuditLog audit,
    Observability.AgentryTelemetry telemetry)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled || context.Request.Path.StartsWithSegments("/health") || HttpMethods.IsOptions(context.Request.Method))
        {
            await next(context);
            return;
        }

        var caller = context.GetCaller();
        var partition = caller is null ? $"ip:{context.Connection.RemoteIpAddress}" : $"key:{caller.KeyId}";
        var actor = caller?.KeyId ?? "anonymous";
        var perMinute = caller?.Limits.RequestsPerMinute ?? settings.PermitsPerMinute;

        var decision = await store.AcquireRequestAsync(partition, perMinute, context.RequestAborted);
        var resetSeconds = Math.Max(1, (int)Math.Ceiling(decision.Reset.TotalSeconds));
        context.Response.Headers["RateLimit-Policy"] = $"\"requests\";q={perMinute};w=60";
        context.Response.Headers["RateLimit"] = $"\"requests\";r={decision.Remaining};t={resetSeconds}";
        if (!decision.Allowed)
        {
            audit.RecordAggregated(AuditActions.RateLimited, actor, context.Connection.RemoteIpAddress?.ToString(), null, "requests-per-minute");
            telemetry.LimitRejected("requests-per-minute");
            await RejectAsync(context, resetSeconds, ProblemTypes.RateLimited, "Rate limit exceeded",
                $"This client may make {perMinute} requests per minute; try again in {resetSeconds} s.");
            return;
        }

        var concurrencyLimit = caller?.Limits.ConcurrentRequests ?? settings.ConcurrentRequests;
        var slot = await store.AcquireConcurrencyAsync(partition, concurrencyLimit, context.RequestAborted);
        if (!slot.Allowed)
        {
            audit.RecordAggregated(AuditActions.RateLimited, actor, context.Connection.RemoteIpAddress?.ToString(), null, "concurrent-requests");
            telemetry.LimitRejected("concurrent-requests");
            await RejectAsync(context, 1, ProblemTypes.ConcurrencyLimited, "Too many concurrent requests",
                $"This client may have {concurrencyLimit} requests in flight at once; wait for one to finish.");
            return;
        }
        // Freed when the request ends, unless work that outlives it took the slot along (Security/ConcurrencySlot.cs).
        var held = new ConcurrencySlot(slot.Lease);
        context.Features.Set(held);
        try
        {
            await next(context);
        }
        finally
        {
            held.Release();
        }
    }

    internal static Task RejectAsync(HttpContext context, int retryAfterSeconds, string type, string title, string detail)
    {
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.WriteAsync(context, 429, type, title, detail);
    }
}
