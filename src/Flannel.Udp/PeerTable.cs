using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;

namespace Flannel.Udp;

/// <summary>One route of the data path: a peer subnet and the peer's public IPv4 (host order) and UDP port.</summary>
/// <param name="Network">The subnet's network address, host order.</param>
/// <param name="PrefixLength">The subnet's prefix length.</param>
/// <param name="PeerAddress">The peer's public IPv4, host order.</param>
/// <param name="Port">The peer's UDP port.</param>
internal readonly record struct PeerRoute(uint Network, int PrefixLength, uint PeerAddress, ushort Port)
{
    public static PeerRoute Create(IPNetwork subnet, IPAddress peer, ushort port)
    {
        if (subnet.BaseAddress.AddressFamily != AddressFamily.InterNetwork || peer.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"udp routes are IPv4 only: {subnet} via {peer}");
        }

        return new PeerRoute(ToHost(subnet.BaseAddress) & PeerTable.Mask(subnet.PrefixLength), subnet.PrefixLength, ToHost(peer), port);
    }

    public static uint ToHost(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }
}

/// <summary>
/// An immutable longest-prefix-match table from peer subnets to peer endpoints, plus the set of peer public IPs
/// accepted as datagram sources. The data path reads the current instance without locks; updates build a new
/// instance and publish it with a volatile write.
/// </summary>
internal sealed class PeerTable
{
    private readonly Level[] _levels; // one per distinct prefix length, longest first
    private readonly FrozenSet<uint> _sources;

    private PeerTable(Level[] levels, FrozenSet<uint> sources, IReadOnlyList<PeerRoute> routes)
    {
        _levels = levels;
        _sources = sources;
        Routes = routes;
    }

    /// <summary>The empty table.</summary>
    public static PeerTable Empty { get; } = Create([]);

    /// <summary>The routes, in the order given.</summary>
    public IReadOnlyList<PeerRoute> Routes { get; }

    public static uint Mask(int prefixLength) => prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);

    /// <summary>Builds a table; a later route to the same subnet replaces an earlier one.</summary>
    public static PeerTable Create(IEnumerable<PeerRoute> routes)
    {
        var bySubnet = new Dictionary<(uint, int), PeerRoute>();
        foreach (var r in routes)
        {
            var net = r.Network & Mask(r.PrefixLength);
            bySubnet[(net, r.PrefixLength)] = r with { Network = net };
        }

        var list = bySubnet.Values.ToArray();
        var levels = list.GroupBy(r => r.PrefixLength)
            .OrderByDescending(g => g.Key)
            .Select(g => new Level(Mask(g.Key), g.ToFrozenDictionary(r => r.Network)))
            .ToArray();
        return new PeerTable(levels, list.Select(r => r.PeerAddress).ToFrozenSet(), list);
    }

    /// <summary>Finds the route with the longest prefix containing <paramref name="destination"/> (host order).</summary>
    public bool TryLookup(uint destination, out PeerRoute route)
    {
        foreach (var level in _levels)
        {
            if (level.Routes.TryGetValue(destination & level.Mask, out route))
            {
                return true;
            }
        }

        route = default;
        return false;
    }

    /// <summary>Whether <paramref name="source"/> (host order) is the public IP of a current peer.</summary>
    public bool IsPeer(uint source) => _sources.Contains(source);

    private sealed record Level(uint Mask, FrozenDictionary<uint, PeerRoute> Routes);
}
