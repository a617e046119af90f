using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;
using Microsoft.Extensions.Logging;

namespace Flannel.Vxlan;

/// <summary>What one vxlan device (one address family) should look like.</summary>
internal sealed record VxlanDeviceSpec(AddressFamily Family, string Name, uint Vni, IPAddress Local, int UnderlayIndex, ushort? Port, bool Learning, bool Gbp, int Mtu, PhysicalAddress Mac);

/// <summary>Creates, checks and repairs the vxlan devices.</summary>
[SupportedOSPlatform("linux")]
internal static class VxlanDevice
{
    /// <summary>The kernel's default VXLAN port on Linux (what an unset port means).</summary>
    public const ushort KernelDefaultPort = 8472;

    /// <summary>Why an existing link cannot be reused for <paramref name="want"/>, or null when it can.</summary>
    public static string? Incompatibility(Link link, VxlanDeviceSpec want)
    {
        if (!string.Equals(link.Kind, "vxlan", StringComparison.Ordinal) || link.Vxlan is not { } v)
        {
            return $"link type is {link.Kind ?? "unknown"}, not vxlan";
        }

        if (v.Vni != want.Vni)
        {
            return $"VNI {v.Vni} instead of {want.Vni}";
        }

        if (v.Device is { } d && d != 0 && d != want.UnderlayIndex)
        {
            return $"underlay device index {d} instead of {want.UnderlayIndex}";
        }

        if (v.Local is { } l && !l.Equals(want.Local))
        {
            return $"local address {l} instead of {want.Local}";
        }

        if (v.Group is { } g && !g.Equals(IPAddress.Any) && !g.Equals(IPAddress.IPv6Any))
        {
            return $"has group/remote {g}";
        }

        if ((v.Port ?? KernelDefaultPort) != (want.Port ?? KernelDefaultPort))
        {
            return $"port {v.Port} instead of {want.Port ?? KernelDefaultPort}";
        }

        if (v.Gbp != want.Gbp)
        {
            return $"GBP {v.Gbp} instead of {want.Gbp}";
        }

        if (v.Learning is { } learning && learning != want.Learning)
        {
            return $"learning {learning} instead of {want.Learning}";
        }

        return null;
    }

    /// <summary>
    /// Ensures the device exists with the spec's attributes, MTU and MAC (not yet up); returns it. Creating or
    /// replacing it is always logged; finding it as wanted only when <paramref name="logReuse"/> (the first look at
    /// registration, not the set-up that follows it or a repair).
    /// </summary>
    public static async ValueTask<Link> EnsureAsync(RtnetlinkClient rtnl, VxlanDeviceSpec want, ILogger logger, CancellationToken cancellationToken, bool logReuse = true)
    {
        var link = await rtnl.Links.GetAsync(want.Name, cancellationToken).ConfigureAwait(false);
        if (link is not null && Incompatibility(link, want) is { } reason)
        {
            Log.DeviceIncompatible(logger, want.Name, reason);
            await rtnl.Links.DeleteAsync(link.Index, cancellationToken).ConfigureAwait(false);
            link = null;
        }

        if (link is null)
        {
            link = await rtnl.Links.CreateAsync(
                new VxlanLinkSpec(want.Name, want.Vni)
                {
                    Local = want.Local,
                    Device = want.UnderlayIndex,
                    Port = want.Port,
                    Learning = want.Learning,
                    Gbp = want.Gbp,
                    Mtu = want.Mtu,
                    MacAddress = want.Mac,
                },
                cancellationToken).ConfigureAwait(false);
            Log.DeviceCreated(logger, want.Name, want.Vni, VtepData.FormatMac(want.Mac), want.Mtu);
        }
        else if (logReuse)
        {
            Log.DeviceReused(logger, want.Name);
        }

        if (link.Mtu != want.Mtu || !Equals(link.MacAddress, want.Mac))
        {
            await rtnl.Links.SetAsync(
                link.Index,
                up: null,
                mtu: link.Mtu != want.Mtu ? want.Mtu : null,
                macAddress: Equals(link.MacAddress, want.Mac) ? null : want.Mac,
                cancellationToken).ConfigureAwait(false);
            link = await rtnl.Links.GetByIndexAsync(link.Index, cancellationToken).ConfigureAwait(false)
                ?? throw new FlannelException($"device {want.Name} vanished while being configured");
        }

        return link;
    }

    /// <summary>
    /// Gives the device exactly one address of its family in the overlay: the lease subnet's network address as a
    /// host prefix; removes other addresses of that family in the flannel network (IPv6: any non-link-local one).
    /// </summary>
    public static async ValueTask EnsureAddressAsync(RtnetlinkClient rtnl, int index, IPNetwork leaseSubnet, IPNetwork? overlay, CancellationToken cancellationToken)
    {
        var family = leaseSubnet.BaseAddress.AddressFamily;
        var hostPrefix = family == AddressFamily.InterNetwork ? 32 : 128;
        var have = false;
        foreach (var a in await rtnl.Addresses.ListAsync(index, family, cancellationToken).ConfigureAwait(false))
        {
            if (a.Address.Equals(leaseSubnet.BaseAddress) && a.PrefixLength == hostPrefix)
            {
                have = true;
                continue;
            }

            var foreign = family == AddressFamily.InterNetwork
                ? overlay is { } n && n.Contains(a.Address)
                : !a.Address.IsIPv6LinkLocal;
            if (foreign)
            {
                await rtnl.Addresses.DeleteAsync(new AddressSpec(index, a.Address, a.PrefixLength), cancellationToken).ConfigureAwait(false);
            }
        }

        if (!have)
        {
            await rtnl.Addresses.AddAsync(new AddressSpec(index, leaseSubnet.BaseAddress, hostPrefix) { NoDad = family == AddressFamily.InterNetworkV6 }, cancellationToken).ConfigureAwait(false);
        }
    }
}
