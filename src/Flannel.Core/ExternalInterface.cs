using System.Net;

namespace Flannel;

/// <summary>
/// The underlay interface a node's overlay traffic leaves through, with its addresses and the public
/// (advertised) tunnel endpoints.
/// </summary>
public sealed record ExternalInterface
{
    /// <summary>The interface name, for example <c>eth0</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The kernel interface index.</summary>
    public required int Index { get; init; }

    /// <summary>The interface MTU.</summary>
    public required int Mtu { get; init; }

    /// <summary>The interface's IPv4 address used for the tunnel, if any.</summary>
    public IPAddress? Address { get; init; }

    /// <summary>The interface's IPv6 address used for the tunnel, if any.</summary>
    public IPAddress? IPv6Address { get; init; }

    /// <summary>The advertised IPv4 endpoint (defaults to <see cref="Address"/>; differs behind NAT).</summary>
    public IPAddress? PublicIP { get; init; }

    /// <summary>The advertised IPv6 endpoint (defaults to <see cref="IPv6Address"/>).</summary>
    public IPAddress? PublicIPv6 { get; init; }
}
