using Agentry.Data;
using Agentry.Operations;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

public static class SecurityExtensions
{
    const string CorsPolicy = "agentry";

    public static IHostApplicationBuilder AddSecurity(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SecurityOptions>().BindSettings(SecurityOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        builder.Services.AddOptions<RateLimitOptions>().BindSettings(RateLimitOptions.Section).ValidateOnStart();

        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ApiKeyStore>()); // listens for revocations from other instances
        builder.Services.AddHostedService<ApiKeyUsageFlusher>();
        builder.Services.AddScoped<ApiKeyManager>();
        builder.Services.AddSingleton<InMemoryRateLimitStore>();
        if (builder.Configuration.GetSection(RedisOptions.Section).Get<RedisOptions>() is { IsConfigured: true })
            builder.Services.AddSingleton<IRateLimitStore, RedisRateLimitStore>(); // exact across instances
        else
            builder.Services.AddSingleton<IRateLimitStore>(services => services.GetRequiredService<InMemoryRateLimitStore>());
        builder.Services.AddSingleton<TokenBudget>();
        builder.Services.AddSingleton<AuthFailureLog>();

        // Stored secrets (MCP server env and headers) are encrypted with Data Protection. Its key ring is in the database,
        // so every instance reads what another stored and a restored backup still decrypts; the ring itself is encrypted
        // with the secrets key, which is never in the database (Security/SecretsKey.cs).
        builder.Services.AddSingleton<SecretsKey>();
        builder.Services.AddDataProtection().SetApplicationName("agentry").PersistKeysToDbContext<AgentryDbContext>();
        builder.Services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
            .Configure<SecretsKey>((keys, secrets) => keys.XmlEncryptor = new SecretsKeyXmlEncryptor(secrets));

        builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            // Secure by default: an endpoint that forgets RequireAuthorization still needs a valid key.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build())
            .AddScopePolicies();

        builder.Services.AddCors();
        builder.Services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>()
            .Configure<IOptions<SecurityOptions>>((cors, security) => cors.AddPolicy(CorsPolicy, policy =>
            {
                var origins = security.Value.CorsAllowedOrigins;
                if (origins.Contains("*")) policy.AllowAnyOrigin(); // never combined with credentials: keys travel in headers, not cookies
                else policy.WithOrigins(origins);
                policy.WithMethods("GET", "POST", "PUT", "DELETE")
                    .WithHeaders("Authorization", "X-API-Key", "Content-Type", "Accept", "traceparent")
                    .WithExposedHeaders("Location", "Retry-After", "RateLimit", "RateLimit-Policy")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));
        return builder;
    }

    static AuthorizationBuilder AddScopePolicies(this AuthorizationBuilder authorization)
    {
        foreach (var (policy, scopes) in Policies.AllowedScopes)
            authorization.AddPolicy(policy, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser()
                .RequireClaim(Caller.ClaimScope, scopes));
        return authorization;
    }

    /// <summary>Headers, CORS, authentication, rate limits, authorization — in that order.</summary>
    public static WebApplication UseSecurity(this WebApplication app)
    {
        app.UseMiddleware<SecurityHeadersMiddleware>();
        app.UseCors(CorsPolicy);
        app.UseAuthentication();
        app.UseMiddleware<RateLimitMiddleware>();
        app.UseAuthorization();
        return app;
    }
}
