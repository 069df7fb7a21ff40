using System.CommandLine;
using System.Globalization;
using Agentry.Audit;
using Agentry.Operations;

namespace Agentry.Security;

/// <summary><c>agentry keys create | list | revoke | rotate</c>: API keys from the server's shell, with no key needed.</summary>
public static class KeysCommands
{
    public static Command Keys(CommandHost host)
    {
        var name = new Option<string>("--name") { Required = true, Description = "A name people recognise, e.g. support-widget." };
        var scopes = new Option<string>("--scopes") { Required = true, Description = $"Comma-separated: {string.Join(", ", Security.Scopes.All)}." };
        var expires = new Option<int?>("--expires-in-days") { Description = "The key stops working after this many days." };
        var rpm = new Option<int?>("--requests-per-minute") { Description = "Request limit for this key (default: RateLimit:PermitsPerMinute)." };
        var concurrent = new Option<int?>("--concurrent-requests") { Description = "Requests in flight at once for this key." };
        var tpm = new Option<int?>("--tokens-per-minute") { Description = "Model tokens per minute for this key." };
        var tpd = new Option<int?>("--tokens-per-day") { Description = "Model tokens per UTC day for this key." };
        var create = new Command("create", "Create an API key; its secret is printed once.") { name, scopes, expires, rpm, concurrent, tpm, tpd };
        create.SetAction((parse, ct) => CreateAsync(host, new CreateKeyRequest(parse.GetValue(name)!,
            parse.GetValue(scopes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            parse.GetValue(expires) is { } days ? DateTimeOffset.UtcNow.AddDays(days) : null,
            parse.GetValue(rpm), parse.GetValue(concurrent), parse.GetValue(tpm), parse.GetValue(tpd)), ct));

        var list = new Command("list", "List keys (never their secrets).");
        list.SetAction((_, ct) => ListAsync(host, ct));

        var revokeId = new Argument<string>("KEY_ID") { Description = "The key's id (key_…), as 'agentry keys list' shows it." };
        var revoke = new Command("revoke", "Revoke a key: refused from then on (see the note it prints on running instances).") { revokeId };
        revoke.SetAction((parse, ct) => ChangeAsync(host, parse.GetValue(revokeId)!, rotate: false, ct));

        var rotateId = new Argument<string>("KEY_ID") { Description = "The key's id (key_…)." };
        var rotate = new Command("rotate", "Give a key a new secret, printed once; the old secret is refused from then on.") { rotateId };
        rotate.SetAction((parse, ct) => ChangeAsync(host, parse.GetValue(rotateId)!, rotate: true, ct));

        return new Command("keys", "Manage API keys.") { create, list, revoke, rotate };
    }

    static async Task<int> CreateAsync(CommandHost host, CreateKeyRequest request, CancellationToken cancellationToken)
    {
        var errors = new Api.ValidationErrors();
        request.Validate(errors);
        if (!errors.IsEmpty)
        {
            foreach (var (field, messages) in errors.ToDictionary()) Console.Error.WriteLine($"--{Kebab(field)}: {string.Join(" ", messages)}");
            return 2;
        }
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var created = await scope.ServiceProvider.GetRequiredService<ApiKeyManager>().CreateAsync(request, AuditActor.Cli, cancellationToken);
        await CommandHost.ChainAuditAsync(scope.ServiceProvider);
        Console.WriteLine($"Created key {created.Key.Id} ({created.Key.Name}, scopes: {string.Join(",", created.Key.Scopes)}). Its secret, shown only now:");
        Console.WriteLine(created.Secret);
        return 0;
    }

    static async Task<int> ListAsync(CommandHost host, CancellationToken cancellationToken)
    {
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var keys = await scope.ServiceProvider.GetRequiredService<ApiKeyManager>().ListAsync(cancellationToken);
        Console.WriteLine($"{"ID",-38} {"NAME",-20} {"PREFIX",-13} {"STATUS",-8} {"SCOPES",-30} LAST USED");
        foreach (var k in keys)
            Console.WriteLine($"{k.Id,-38} {k.Name,-20} {k.Prefix,-13} {k.Status,-8} {string.Join(",", k.Scopes),-30} {k.LastUsedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"}");
        return 0;
    }

    static async Task<int> ChangeAsync(CommandHost host, string keyId, bool rotate, CancellationToken cancellationToken)
    {
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyManager>();
        string? secret = null;
        if (rotate)
        {
            if (await keys.RotateAsync(keyId, AuditActor.Cli, cancellationToken) is not { } rotated) return NotFound(keyId);
            secret = rotated.Secret;
        }
        else if (await keys.RevokeAsync(keyId, AuditActor.Cli, cancellationToken) is null) return NotFound(keyId);
        await CommandHost.ChainAuditAsync(scope.ServiceProvider);
        Console.WriteLine(rotate ? $"Rotated {keyId}; the old secret is refused from now on." : $"Revoked {keyId}; it is refused from now on.");
        // A running instance caches a key it has seen for a few seconds. Through Redis every instance hears of this change
        // at once; without Redis, this process cannot reach them, so say how long they may still accept it.
        var shared = scope.ServiceProvider.GetRequiredService<Data.SharedState>();
        var cache = scope.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<SecurityOptions>>().Value.KeyCacheDuration;
        Console.WriteLine(shared.IsConfigured
            ? "Every running instance was told through Redis and drops it at once."
            : $"Running instances (no Redis is configured to tell them) may accept the old secret for up to {cache.TotalSeconds:0.#} s more " +
              "(Security:KeyCacheDuration); revoke through the API (DELETE /v1/admin/keys/{id}) to make it immediate on the instance that answers.");
        if (secret is not null)
        {
            Console.WriteLine("New secret, shown only now:");
            Console.WriteLine(secret);
        }
        return 0;
    }

    static int NotFound(string keyId)
    {
        Console.Error.WriteLine($"No active key with id '{keyId}'. See 'agentry keys list'.");
        return 1;
    }

    static string Kebab(string field) => string.Concat(field.Select(c => char.IsUpper(c) ? $"-{char.ToLowerInvariant(c)}" : c.ToString()));
}
