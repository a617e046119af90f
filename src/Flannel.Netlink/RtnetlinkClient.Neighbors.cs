using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Codecs;

namespace Flannel.Netlink;

/// <summary>ARP/NDP operations (<c>ip neigh</c>), reached through <see cref="RtnetlinkClient.Neighbors"/>.</summary>
/// <example><code>await rtnl.Neighbors.ReplaceAsync(new NeighborSpec(vtep.Index, IPAddress.Parse("10.244.2.0"), peerMac), ct);</code></example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkNeighbors
{
    private readonly RtnetlinkClient _client;

    internal RtnetlinkNeighbors(RtnetlinkClient client) => _client = client;

    /// <summary>Lists ARP and NDP entries, filtered by the kernel.</summary>
    /// <param name="interfaceIndex">Only this interface's entries, or null for all.</param>
    /// <param name="family">Only this family, or null for both.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entries.</returns>
    public async ValueTask<IReadOnlyList<Neighbor>> ListAsync(int? interfaceIndex = null, AddressFamily? family = null, CancellationToken cancellationToken = default) =>
        await _client.DumpAsync<(byte, int?), Neighbor>(Nl.RTM_GETNEIGH, (Families.ToNative(family), interfaceIndex), NeighborCodec.EncodeDump, NeighborCodec.TryDecodeNeighbor, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Dumps ARP/NDP entries like <see cref="ListAsync"/> but hands each one to <paramref name="visitor"/> as it is read
    /// from the receive buffer, without allocating. An interrupted dump is retried; the visitor is told to start over.
    /// </summary>
    /// <param name="interfaceIndex">Only this interface's entries, or null for all.</param>
    /// <param name="family">Only this family, or null for both.</param>
    /// <param name="visitor">Receives the entries, one at a time.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes after the last entry.</returns>
    public ValueTask VisitAsync(int? interfaceIndex, AddressFamily? family, INeighborVisitor visitor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return _client.DumpIntoAsync(Nl.RTM_GETNEIGH, (Families.ToNative(family), interfaceIndex), NeighborCodec.EncodeDump, new NeighborVisitorSink(visitor), cancellationToken);
    }

    /// <summary>Installs the entry, replacing an existing one (NLM_F_CREATE|NLM_F_REPLACE).</summary>
    /// <param name="spec">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask ReplaceAsync(NeighborSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, NeighborCodec.EncodeNew, false, cancellationToken));
    }

    /// <summary>Adds the entry; fails with <see cref="Errno.EEXIST"/> when present.</summary>
    /// <param name="spec">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask AddAsync(NeighborSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, NeighborCodec.EncodeNew, false, cancellationToken));
    }

    /// <summary>Deletes the entry for an address on an interface.</summary>
    /// <param name="interfaceIndex">The interface index.</param>
    /// <param name="address">The neighbour's IP address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when it was deleted, false when there was none.</returns>
    public ValueTask<bool> DeleteAsync(int interfaceIndex, IPAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        return _client.RequestAckAsync(Nl.RTM_DELNEIGH, 0, (interfaceIndex, address), NeighborCodec.EncodeDelete, true, cancellationToken);
    }
}
