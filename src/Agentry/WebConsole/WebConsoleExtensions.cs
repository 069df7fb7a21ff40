using Agentry.Api;

namespace Agentry.WebConsole;

/// <summary>
/// The console: a page and a script module served by the service itself at <c>/</c>, which call the same public API
/// as any client with the key the person signed in with (kept in the tab's session storage, sent as a bearer header).
/// It holds no state of its own on the server, so behind a balancer any instance serves any request.
/// </summary>
public static class WebConsoleExtensions
{
    public const string AssetPath = "/console";

    public static IHostApplicationBuilder AddWebConsole(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ConsoleAssets>();
        return builder;
    }

    public static WebApplication MapWebConsole(this WebApplication app)
    {
        // A person who opens the service's address gets the console; an API client gets a plain 404 problem.
        app.MapGet("/", (HttpContext http, ConsoleAssets assets) => WantsHtml(http.Request)
                ? (IResult)Serve(http, assets.Find("index.html")!)
                : Problems.NotFound(ProblemTypes.NotFound, "There is no resource at '/'. The API is under /v1; its reference is at /docs and /openapi/v1.json."))
            .ExcludeFromDescription().AllowAnonymous();
        // The files hold no data: everything they show comes from the API, with the signed-in key.
        app.MapGet(AssetPath + "/{file}", (string file, HttpContext http, ConsoleAssets assets) => assets.Find(file) is { } asset
                ? (IResult)Serve(http, asset)
                : Problems.NotFound(ProblemTypes.NotFound, $"The console has no file '{file}'."))
            .ExcludeFromDescription().AllowAnonymous();
        return app;
    }

    static bool WantsHtml(HttpRequest request) => request.Headers.Accept.Any(a => a?.Contains("text/html", StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>Revalidated on every load (a new version is seen at once), answered 304 when unchanged.</summary>
    static Microsoft.AspNetCore.Http.HttpResults.FileContentHttpResult Serve(HttpContext http, ConsoleAssets.Asset asset)
    {
        http.Response.Headers.CacheControl = "no-cache";
        return TypedResults.Bytes(asset.Content, asset.ContentType, entityTag: asset.ETag);
    }
}
