using System.Net;

namespace Flannel.TestKit;

/// <summary>A pod of a simulated host: a namespace with one address (and optionally an IPv6 one).</summary>
public sealed class SimulatedPod
{
    internal SimulatedPod(TestNamespace ns, IPAddress address, IPAddress? ipv6Address)
    {
        Namespace = ns;
        Address = address;
        IPv6Address = ipv6Address;
    }

    /// <summary>The pod's namespace.</summary>
    public TestNamespace Namespace { get; }

    /// <summary>The pod's IPv4 address.</summary>
    public IPAddress Address { get; }

    /// <summary>The pod's IPv6 address, when it has one.</summary>
    public IPAddress? IPv6Address { get; }

    /// <summary>Pings <paramref name="destination"/> from this pod until a reply arrives or <paramref name="within"/> passes.</summary>
    /// <param name="destination">The address.</param>
    /// <param name="within">The bound (default 5 s).</param>
    /// <returns>True when a reply arrived.</returns>
    public bool Ping(IPAddress destination, TimeSpan? within = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var p = Pinger.Open(Namespace.Path, destination.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
        return p.WaitForReply(destination, within ?? TimeSpan.FromSeconds(5));
    }

    /// <summary>Sends exactly one ping and waits up to <paramref name="timeout"/> for its reply.</summary>
    /// <param name="destination">The address.</param>
    /// <param name="timeout">The bound (default 1 s).</param>
    /// <returns>True when the reply arrived.</returns>
    public bool PingOnce(IPAddress destination, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var p = Pinger.Open(Namespace.Path, destination.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
        return p.PingOnce(destination, timeout ?? TimeSpan.FromSeconds(1));
    }
}
