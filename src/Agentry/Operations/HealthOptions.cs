using System.Collections.Concurrent;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>Readiness fails when the data folder's disk has less free space than this.</summary>
    public long MinFreeDiskMegabytes { get; set; } = 500;

    /// <summary>How long a model provider probe result is reused: probes must not cost a completion per health check.</summary>
    public TimeSpan ModelProbeInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long readiness waits at start for the warm-up (<see cref="StartupWarmup"/>: knowledge indexed and loaded, the
    /// embedding model loaded); past it the instance is ready all the same. Zero: ready at once, no warm-up.
    /// </summary>
    public TimeSpan WarmupTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
