using Agentry.Operations;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Data;

/// <summary>Unready when the data folder's disk is nearly full: SQLite would start failing writes.</summary>
public sealed class DiskSpaceHealthCheck(IOptions<DataOptions> data, IOptions<HealthOptions> options, IHostEnvironment environment) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var folder = data.Value.FullDirectory(environment.ContentRootPath);
        var free = FreeBytes(folder);
        var minimum = options.Value.MinFreeDiskMegabytes * 1024 * 1024;
        var details = new Dictionary<string, object> { ["folder"] = folder, ["freeMegabytes"] = free / 1024 / 1024, ["minimumMegabytes"] = options.Value.MinFreeDiskMegabytes };
        return Task.FromResult(free >= minimum
            ? HealthCheckResult.Healthy($"{free / 1024 / 1024} MB free.", details)
            : HealthCheckResult.Unhealthy($"Only {free / 1024 / 1024} MB free on the data folder's disk (minimum {options.Value.MinFreeDiskMegabytes} MB).", data: details));
    }

    public static long FreeBytes(string folder)
    {
        var existing = folder;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent) existing = parent;
        return new DriveInfo(existing).AvailableFreeSpace;
    }
}
