using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

public sealed record RateLimitDecision(bool Allowed, int Limit, int Remaining, TimeSpan Reset, IDisposable? Lease = null);
