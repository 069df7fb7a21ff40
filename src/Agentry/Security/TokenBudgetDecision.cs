using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

/// <summary>A reservation, or why there is none: the window that is full, its limit, what is used and when it renews.</summary>
public sealed record TokenBudgetDecision(bool Allowed, string? ExceededWindow, long Limit, long Used, TimeSpan Reset, TokenReservation? Reservation = null);
