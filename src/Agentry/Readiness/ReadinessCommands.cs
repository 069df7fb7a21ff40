using System.CommandLine;
using System.Text.Json;
using Agentry.Operations;

namespace Agentry.Readiness;

/// <summary><c>agentry doctor [--strict N] [--json]</c>: the production checklist from the server's shell or a deployment pipeline.</summary>
public static class ReadinessCommands
{
    public static Command Doctor(CommandHost host)
    {
        var strict = new Option<int?>("--strict") { Description = "Exit with code 1 when the score is below this (0-100), for deployment pipelines." };
        strict.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } n && n is < 0 or > 100) r.AddError("--strict takes a score from 0 to 100.");
        });
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (the shape of GET /v1/admin/readiness)." };
        var doctor = new Command("doctor", "Check this configuration and its data against the production checklist; print the score and how to fix each failed item.")
            { strict, json };
        doctor.SetAction((result, ct) => RunAsync(host, result.GetValue(strict), result.GetValue(json), ct));
        return doctor;
    }

    static async Task<int> RunAsync(CommandHost host, int? strict, bool json, CancellationToken cancellationToken)
    {
        var report = await host.Services.GetRequiredService<ProductionReadiness>().CheckAsync(cancellationToken);
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        if (json) Console.WriteLine(JsonSerializer.Serialize(report, options));
        else Print(report);
        if (strict is { } minimum && report.Score < minimum)
        {
            Console.Error.WriteLine($"Score {report.Score} is below --strict {minimum}.");
            return 1;
        }
        return 0;
    }

    static void Print(ReadinessReport report)
    {
        Console.WriteLine($"Score: {report.Score}/100");
        foreach (var category in report.Categories)
            Console.WriteLine($"  {category.Name,-12} {category.Points,3}/{category.MaxPoints}");
        Console.WriteLine();
        foreach (var check in report.Checks)
        {
            Console.WriteLine($"{(check.Passed ? "  ok  " : "  FAIL")} {check.Title} ({check.Category}, {check.Weight} pts): {check.Found}");
            if (check.Fix is { } fix) Console.WriteLine($"        fix: {fix}");
        }
    }
}
