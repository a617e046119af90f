using System.Net;

namespace Flannel.Netlink;

/// <summary>An address to assign to an interface. The address may have host bits set (10.244.1.0/16 on flannel0).</summary>
/// <param name="InterfaceIndex">The interface index.</param>
/// <param name="Address">The address.</param>
/// <param name="PrefixLength">The prefix length (0–32 for IPv4, 0–128 for IPv6).</param>
/// <example><code>await rtnl.Addresses.ReplaceAsync(new AddressSpec(vtep.Index, IPAddress.Parse("10.244.1.0"), 32), ct);</code></example>
public sealed record AddressSpec(int InterfaceIndex, IPAddress Address, int PrefixLength)
{
    /// <summary>The scope, or null for universe.</summary>
    public RouteScope? Scope { get; init; }

    /// <summary>An IPv4 label (IFA_LABEL), or null.</summary>
    public string? Label { get; init; }

    /// <summary>IPv6: skip duplicate address detection (IFA_F_NODAD), so the address is usable at once.</summary>
    public bool NoDad { get; init; }
}
