using System.Runtime.CompilerServices;
using System.Runtime.Versioning;
using Flannel.Netlink;

namespace Flannel.HostGw;

/// <summary>The kernel side of host-gw: the kernel route table and the netlink feed of route removals.</summary>
internal static class KernelRoutes
{
    public static IRouteTable CreateTable(BackendContext context, HostGwOptions options)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the host-gw backend programs the Linux routing table; use a custom IRouteTable elsewhere");
        }

        return new HostGwKernelTable(context.NetworkNamespacePath, options, context.MeterFactory);
    }

    public static Func<CancellationToken, IAsyncEnumerable<string>>? CreateChangeFeed(BackendContext context, HostGwOptions options)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var path = context.NetworkNamespacePath;
        var protocol = (RouteProtocol)options.RouteProtocol;
        var underlay = context.Interface.Index;
        return ct => OperatingSystem.IsLinux() ? WatchAsync(path, protocol, underlay, ct) : throw new PlatformNotSupportedException();
    }

    /// <summary>
    /// Yields a description of every removal of a route carrying our protocol mark, of every change of the underlay
    /// link (the kernel drops the routes through a link that goes down without a removal notification, and they can
    /// be programmed again only once it is back up), and of every monitor resync.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static async IAsyncEnumerable<string> WatchAsync(string? namespacePath, RouteProtocol protocol, int underlay, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var ns = namespacePath is null ? null : NetworkNamespace.OpenByPath(namespacePath);
        await using var client = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns });
        await foreach (var e in client.WatchAsync(RtnetlinkGroups.Link | RtnetlinkGroups.IPv4Route | RtnetlinkGroups.IPv6Route, cancellationToken).ConfigureAwait(false))
        {
            if (e is RouteEvent { Change: RtnetlinkChange.Removed } re && re.Route.Protocol == protocol)
            {
                yield return $"route {re.Route.Destination} deleted";
            }
            else if (e is LinkEvent le && le.Link.Index == underlay)
            {
                yield return $"link {le.Link.Name} {(le.Change == RtnetlinkChange.Removed ? "removed" : le.Link.IsUp ? "up" : "down")}";
            }
            else if (e is ResyncEvent r)
            {
                yield return "monitor resync: " + r.Reason;
            }
        }
    }
}
