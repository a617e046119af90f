using System.Runtime.Versioning;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Codecs;

namespace Flannel.Netlink;

/// <summary>Bridge FDB operations on vxlan devices (<c>bridge fdb … self</c>), reached through <see cref="RtnetlinkClient.Fdb"/>.</summary>
/// <example><code>await rtnl.Fdb.AppendAsync(new FdbSpec(vtep.Index, PhysicalAddress.None, IPAddress.Parse("198.18.0.2")), ct);</code></example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkFdb
{
    private readonly RtnetlinkClient _client;

    internal RtnetlinkFdb(RtnetlinkClient client) => _client = client;

    /// <summary>Lists FDB entries (AF_BRIDGE neighbours), filtered by the kernel.</summary>
    /// <param name="interfaceIndex">Only this device's entries, or null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entries.</returns>
    public async ValueTask<IReadOnlyList<FdbEntry>> ListAsync(int? interfaceIndex = null, CancellationToken cancellationToken = default)
    {
        var list = await _client.DumpAsync<(byte, int?), FdbEntry>(Nl.RTM_GETNEIGH, (Nl.AF_BRIDGE, interfaceIndex), NeighborCodec.EncodeDump, NeighborCodec.TryDecodeFdb, cancellationToken).ConfigureAwait(false);
        if (interfaceIndex is { } ix)
        {
            list.RemoveAll(e => e.InterfaceIndex != ix);
        }

        return list;
    }

    /// <summary>
    /// Dumps FDB entries like <see cref="ListAsync"/> but hands each one to <paramref name="visitor"/> as it is read
    /// from the receive buffer, without allocating. An interrupted dump is retried; the visitor is told to start over.
    /// </summary>
    /// <param name="interfaceIndex">Only this device's entries, or null for all.</param>
    /// <param name="visitor">Receives the entries, one at a time.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes after the last entry.</returns>
    public ValueTask VisitAsync(int? interfaceIndex, IFdbVisitor visitor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return _client.DumpIntoAsync(Nl.RTM_GETNEIGH, (Nl.AF_BRIDGE, interfaceIndex), NeighborCodec.EncodeDump, new FdbVisitorSink(visitor, interfaceIndex), cancellationToken);
    }

    /// <summary>Installs the entry, replacing the MAC's existing destination (NLM_F_CREATE|NLM_F_REPLACE).</summary>
    /// <param name="spec">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask ReplaceAsync(FdbSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, NeighborCodec.EncodeFdb, false, cancellationToken));
    }

    /// <summary>Adds the entry; fails with <see cref="Errno.EEXIST"/> when the MAC is present (NLM_F_CREATE|NLM_F_EXCL).</summary>
    /// <param name="spec">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask AddAsync(FdbSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, NeighborCodec.EncodeFdb, false, cancellationToken));
    }

    /// <summary>Appends a destination to the MAC's list (NLM_F_CREATE|NLM_F_APPEND), e.g. to the all-zeros flood entry.</summary>
    /// <param name="spec">The entry.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask AppendAsync(FdbSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_APPEND, spec, NeighborCodec.EncodeFdb, false, cancellationToken));
    }

    /// <summary>Deletes the MAC's entry for the spec's destination.</summary>
    /// <param name="spec">The entry (device, MAC, destination; port and VNI narrow the match when set).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when it was deleted, false when there was none.</returns>
    public ValueTask<bool> DeleteAsync(FdbSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _client.RequestAckAsync(Nl.RTM_DELNEIGH, 0, spec, NeighborCodec.EncodeFdbDelete, true, cancellationToken);
    }
}
