using System.Net;
using System.Runtime.Versioning;
using Flannel.Netlink;

namespace Flannel.Udp;

/// <summary>
/// Configures the TUN device like flannel does, through rtnetlink: the lease's network address as /32, the MTU, link
/// up, and a route for the whole overlay network through the device (replaced if present).
/// </summary>
[SupportedOSPlatform("linux")]
internal static class InterfaceConfig
{
    /// <summary>Configures <paramref name="device"/> and returns its interface index.</summary>
    public static async ValueTask<int> ConfigureAsync(RtnetlinkClient rtnl, string device, IPAddress address, int mtu, IPNetwork network, CancellationToken cancellationToken)
    {
        var link = await rtnl.Links.GetAsync(device, cancellationToken).ConfigureAwait(false)
            ?? throw new FlannelException($"the TUN device {device} vanished right after it was created");
        await rtnl.Addresses.ReplaceAsync(new AddressSpec(link.Index, address, 32), cancellationToken).ConfigureAwait(false);
        await rtnl.Links.SetAsync(link.Index, up: true, mtu: mtu, macAddress: null, cancellationToken).ConfigureAwait(false);
        await rtnl.Routes.ReplaceAsync(OverlayRoute(link.Index, network), cancellationToken).ConfigureAwait(false);
        return link.Index;
    }

    /// <summary>The route for the whole overlay network through the TUN device.</summary>
    public static RouteSpec OverlayRoute(int index, IPNetwork network) => new(network) { Device = index };

    /// <summary>
    /// Sets accept_local on the device, from a thread inside its namespace. ICMP errors the forwarder writes into the TUN
    /// come from the TUN's own address; without accept_local the kernel drops them as martians (source is local), so
    /// flannel's replies never reach the sender.
    /// </summary>
    public static void AcceptLocal(string device) => File.WriteAllText($"/proc/sys/net/ipv4/conf/{device}/accept_local", "1");
}
