namespace Flannel.HostGw;

/// <summary>The kernel side of host-gw: the kernel route table and its change feed (wired when Netlink lands).</summary>
internal static class KernelRoutes
{
    public static IRouteTable CreateTable(BackendContext context, HostGwOptions options) =>
        throw new PlatformNotSupportedException("the kernel route table is not available in this build");

    public static Func<CancellationToken, IAsyncEnumerable<string>>? CreateChangeFeed(BackendContext context, HostGwOptions options) => null;
}
