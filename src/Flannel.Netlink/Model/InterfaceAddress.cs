using System.Net;
using System.Net.Sockets;

namespace Flannel.Netlink;

/// <summary>An address assigned to an interface (RTM_NEWADDR).</summary>
/// <example><code>foreach (var a in await rtnl.Addresses.ListAsync(link.Index, ct: ct)) Console.WriteLine($"{a.Address}/{a.PrefixLength}");</code></example>
public sealed record InterfaceAddress
{
    /// <summary>The interface index (ifa_index).</summary>
    public required int InterfaceIndex { get; init; }

    /// <summary>The address (IFA_LOCAL when present, else IFA_ADDRESS).</summary>
    public required IPAddress Address { get; init; }

    /// <summary>The prefix length (ifa_prefixlen).</summary>
    public required int PrefixLength { get; init; }

    /// <summary>The address family.</summary>
    public AddressFamily Family => Address.AddressFamily;

    /// <summary>The scope (ifa_scope).</summary>
    public RouteScope Scope { get; init; }

    /// <summary>The flags (IFA_FLAGS, or ifa_flags): 0x80 permanent, 0x40 tentative…</summary>
    public uint Flags { get; init; }

    /// <summary>The label (IFA_LABEL), IPv4 only.</summary>
    public string? Label { get; init; }

    /// <summary>The peer address (IFA_ADDRESS) when it differs from the local one (point-to-point).</summary>
    public IPAddress? Peer { get; init; }

    /// <summary>The broadcast address (IFA_BROADCAST), if any.</summary>
    public IPAddress? Broadcast { get; init; }

    /// <summary>The network this address belongs to.</summary>
    public IPNetwork Network => IPNetworkOf(Address, PrefixLength);

    private static IPNetwork IPNetworkOf(IPAddress address, int prefix)
    {
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out var n);
        b = b[..n];
        for (var i = 0; i < n; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            b[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPNetwork(new IPAddress(b), prefix);
    }
}
