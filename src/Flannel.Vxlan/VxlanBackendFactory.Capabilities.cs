using Flannel.Netlink;

namespace Flannel.Vxlan;

public sealed partial class VxlanBackendFactory : IBackendResources, IBackendCleanup
{
    /// <inheritdoc />
    public IReadOnlyList<string> GetResources(NetworkConfig config, BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(config);
        var vx = VxlanConfig.Parse(config.Backend);
        var port = vx.Port ?? 8472;
        var keys = new List<string> { "link:flannel." + vx.Vni, $"vxlan:vni={vx.Vni},port={port}" };
        if (config.EnableIPv6)
        {
            keys.Add("link:flannel-v6." + vx.Vni);
        }

        return keys;
    }

    /// <inheritdoc />
    /// <remarks>Deletes every vxlan device named <c>flannel.N</c> or <c>flannel-v6.N</c>; the kernel removes their routes,
    /// neighbour and FDB entries with them.</remarks>
    public async ValueTask CleanupAsync(BackendContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var ns = context.NetworkNamespacePath is { } path ? NetworkNamespace.OpenByPath(path) : null;
        await using var rtnl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = ns }, cancellationToken).ConfigureAwait(false);
        foreach (var link in await rtnl.Links.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (link.Kind == "vxlan" && (link.Name.StartsWith("flannel.", StringComparison.Ordinal) || link.Name.StartsWith("flannel-v6.", StringComparison.Ordinal)))
            {
                await rtnl.Links.DeleteAsync(link.Index, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
