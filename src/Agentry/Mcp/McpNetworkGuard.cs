using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Agentry.Mcp;

/// <summary>
/// Where an http MCP server added through the API may be. An admin key must not turn Agentry into a proxy into its own
/// network (the database, Redis, a cloud's metadata service at 169.254.169.254): such a server must resolve to public
/// addresses only, unless its network is listed in <see cref="McpOptions.AllowPrivateNetworks"/>. The check runs when the
/// server is added and again on every connection, after DNS resolution and on the address actually connected to (so a
/// name that later resolves elsewhere is caught), and redirects are not followed.
/// </summary>
public sealed class McpNetworkGuard(IOptions<McpOptions> options)
{
    static readonly IPNetwork[] NonPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    /// <summary>Whether the address is on the public internet (an IPv4 address mapped into IPv6 counts as itself).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return !NonPublic.Any(n => n.Contains(address));
    }

    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return IsPublic(address) || options.Value.AllowPrivateNetworks.Any(n => IPNetwork.Parse(n).Contains(address));
    }

    /// <summary>Why the server at <paramref name="url"/> may not be reached, or null; a name that does not resolve yet is left to the connection.</summary>
    public async Task<string?> ProblemWithAsync(Uri url, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(url.Host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(url.Host, cancellationToken);
        }
        catch (SocketException)
        {
            return null;
        }
        return addresses.FirstOrDefault(a => !Allows(a)) is { } refused ? Refusal(url.Host, refused) : null;
    }

    /// <summary>An HTTP handler that connects only to allowed addresses and never follows a redirect.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false, // a proxy would connect on our behalf, past the check below
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host;
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            if (addresses.FirstOrDefault(a => !Allows(a)) is { } refused) throw new HttpRequestException(Refusal(host, refused));
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    static string Refusal(string host, IPAddress address) =>
        $"'{host}' resolves to {address}, which is not a public address; an MCP server added through the API must be on the internet, " +
        "or its network listed in Mcp:AllowPrivateNetworks.";
}
