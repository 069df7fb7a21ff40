using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

/// <summary>Tokens set aside for one model call, in the windows that were current when it started.</summary>
/// <summary>
/// Tokens held for one model call until it is settled. <see cref="Shared"/>: held in Redis (every instance counts it),
/// else in this instance's memory; a reservation is settled where it was made, never against the other store.
/// </summary>
public sealed record TokenReservation(string Partition, long Minute, long Day, long Tokens, bool Shared = false);
