using Microsoft.Extensions.Options;

namespace Agentry.Security;

public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>Require API keys. Turning this off is allowed only in Development (alias: ENABLE_SECURITY).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Admin key to create on first start when no key exists (alias: AGENTRY_ADMIN_KEY).</summary>
    public string? AdminKey { get; set; }

    /// <summary>File holding the admin key for first start (alias: AGENTRY_ADMIN_KEY_FILE), e.g. a mounted secret.</summary>
    public string? AdminKeyFile { get; set; }

    /// <summary>
    /// The key that encrypts the key ring protecting stored secrets (MCP server env and headers): 32 random bytes in
    /// base64 (alias AGENTRY_SECRETS_KEY). Unset, with no <see cref="SecretsKeyFile"/>: <c>secrets.key</c> in the data folder.
    /// </summary>
    public string? SecretsKey { get; set; }

    /// <summary>A file holding <see cref="SecretsKey"/> (alias AGENTRY_SECRETS_KEY_FILE), e.g. a mounted secret.</summary>
    public string? SecretsKeyFile { get; set; }

    /// <summary>How long a looked-up key is trusted before it is read again; revocations on this instance apply at once.</summary>
    public TimeSpan KeyCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>key</c>: non-admin keys see only the conversations they created. <c>none</c>: any key with read access sees all.</summary>
    public string ConversationIsolation { get; set; } = "key";

    /// <summary>Origins allowed to call the API from a browser; empty (the default) allows none. <c>*</c> allows any, never with credentials.</summary>
    public string[] CorsAllowedOrigins { get; set; } = [];

    /// <summary>Send Strict-Transport-Security (outside Development).</summary>
    public bool Hsts { get; set; } = true;

    public bool IsolateConversations => !ConversationIsolation.Equals("none", StringComparison.OrdinalIgnoreCase);
}

public sealed class SecurityOptionsValidator(IHostEnvironment environment) : IValidateOptions<SecurityOptions>
{
    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var failures = new List<string>();
        if (!options.Enabled && !environment.IsDevelopment())
            failures.Add($"Security:Enabled is false (ENABLE_SECURITY=false) in the '{environment.EnvironmentName}' environment. " +
                "Running without API keys is allowed only in Development, where nothing real should be exposed; " +
                "remove the setting, or set ENVIRONMENT=Development on a machine that only you can reach.");
        if (options.ConversationIsolation is not ("key" or "none"))
            failures.Add($"Security:ConversationIsolation is '{options.ConversationIsolation}'; use 'key' or 'none'.");
        if (options.AdminKey is { Length: > 0 } key && key.Length < 24)
            failures.Add("Security:AdminKey (AGENTRY_ADMIN_KEY) must be at least 24 characters; 'agentry secrets new-key' prints a suitable random value.");
        // The deployment examples ship with "change-me-…" values; a copied example must not go live with a published key.
        if (options.AdminKey?.Contains("change-me", StringComparison.OrdinalIgnoreCase) == true)
            failures.Add("Security:AdminKey (AGENTRY_ADMIN_KEY) is still the placeholder from the example settings; set a long random key " +
                "('agentry secrets new-key' prints one).");
        if (options.KeyCacheDuration < TimeSpan.Zero || options.KeyCacheDuration > TimeSpan.FromMinutes(1))
            failures.Add("Security:KeyCacheDuration must be between 0 and 1 minute, so revocations take effect quickly.");
        foreach (var origin in options.CorsAllowedOrigins)
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/"))
                failures.Add($"Security:CorsAllowedOrigins: '{origin}' is not an origin like https://app.example.com.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
