using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Headers on every response. API responses get a CSP that forbids everything; the HTML reference at /docs gets a
/// strict one that allows only its own scripts, marked with a per-response nonce.
/// </summary>
public sealed class SecurityHeadersMiddleware(RequestDelegate next, IOptions<SecurityOptions> options, IHostEnvironment environment)
{
    const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    /// <summary>
    /// The console: its own script module and stylesheet only (no inline script or style, no eval), and calls to this
    /// service only; a stray injected &lt;script&gt; or style attribute is refused by the browser.
    /// </summary>
    const string ConsolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    public async Task InvokeAsync(HttpContext context)
    {
        // Only the HTML page needs a nonce; its scripts and assets under /docs/ are served as they are.
        var path = context.Request.Path.Value;
        var nonce = path is "/docs" or "/docs/" or "/docs/index.html" ? Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)) : null;
        var console = path is "/" || path?.StartsWith(WebConsole.WebConsoleExtensions.AssetPath + "/", StringComparison.Ordinal) == true;
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = console ? ConsolePolicy : nonce is null ? ApiPolicy :
                $"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
                "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
            if (options.Value.Hsts && !environment.IsDevelopment()) headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
            headers.Remove("Server");
            return Task.CompletedTask;
        });

        if (nonce is null || !HttpMethods.IsGet(context.Request.Method))
        {
            await next(context);
            return;
        }
        await ServeDocsWithNonceAsync(context, nonce);
    }

    /// <summary>The docs page is small HTML from the Scalar package: add the nonce to its script tags.</summary>
    async Task ServeDocsWithNonceAsync(HttpContext context, string nonce)
    {
        var original = context.Response.Body;
        await using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }
        buffer.Position = 0;
        if (context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
        {
            var html = Encoding.UTF8.GetString(buffer.ToArray()).Replace("<script", $"<script nonce=\"{nonce}\"", StringComparison.Ordinal);
            var bytes = Encoding.UTF8.GetBytes(html);
            context.Response.ContentLength = bytes.Length;
            await original.WriteAsync(bytes, context.RequestAborted);
            return;
        }
        await buffer.CopyToAsync(original, context.RequestAborted);
    }
}
