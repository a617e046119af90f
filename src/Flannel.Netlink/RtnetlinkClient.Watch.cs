using System.Runtime.CompilerServices;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Diagnostics;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Sockets;

namespace Flannel.Netlink;

public sealed partial class RtnetlinkClient
{
    /// <summary>
    /// Subscribes to kernel change notifications on a second socket (in the client's namespace) and yields them as typed
    /// events. The subscription is made when enumeration starts (first MoveNextAsync). When the kernel drops events
    /// (ENOBUFS) a <see cref="ResyncEvent"/> is yielded and watching goes on.
    /// </summary>
    /// <param name="groups">What to watch.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The events.</returns>
    /// <example><code>await foreach (var e in rtnl.WatchAsync(RtnetlinkGroups.IPv4Route, ct)) Console.WriteLine(e);</code></example>
    public async IAsyncEnumerable<RtnetlinkEvent> WatchAsync(RtnetlinkGroups groups, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (groups == RtnetlinkGroups.None)
        {
            throw new ArgumentException("subscribe to at least one group", nameof(groups));
        }

        var ids = new List<int>();
        if ((groups & RtnetlinkGroups.Link) != 0) { ids.Add(1); }
        if ((groups & RtnetlinkGroups.Neighbor) != 0) { ids.Add(3); }
        if ((groups & RtnetlinkGroups.IPv4Address) != 0) { ids.Add(5); }
        if ((groups & RtnetlinkGroups.IPv4Route) != 0) { ids.Add(7); }
        if ((groups & RtnetlinkGroups.IPv6Address) != 0) { ids.Add(9); }
        if ((groups & RtnetlinkGroups.IPv6Route) != 0) { ids.Add(11); }

        using var socket = NetlinkSocket.Open(_options.Namespace, strict: false, _options.MonitorBufferSize, ids.ToArray());
        var buffer = new byte[ReceiveBufferSize];
        var events = new List<RtnetlinkEvent>();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n;
            string? resync = null;
            try
            {
                n = await socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (NetlinkException ex) when (ex.Error == Errno.ENOBUFS)
            {
                n = 0;
                resync = "ENOBUFS";
            }

            if (resync is not null)
            {
                _metrics?.MonitorResync();
                Log.MonitorOverflow(_logger, resync);
                yield return new ResyncEvent(resync);
                continue;
            }

            events.Clear();
            if (DecodeEvents(buffer.AsSpan(0, n), events))
            {
                _metrics?.MonitorResync();
                Log.MonitorOverflow(_logger, "NLMSG_OVERRUN");
                events.Add(new ResyncEvent("NLMSG_OVERRUN"));
            }

            foreach (var e in events)
            {
                yield return e;
            }
        }
    }

    /// <summary>Decodes notifications; returns true when the kernel reported an overrun.</summary>
    internal static bool DecodeEvents(ReadOnlySpan<byte> datagram, List<RtnetlinkEvent> events)
    {
        var overrun = false;
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            var p = m.Payload;
            switch (m.Header.Type)
            {
                case Nl.RTM_NEWLINK or Nl.RTM_DELLINK:
                    if (LinkCodec.TryDecode(m.Header.Type, p, out var link))
                    {
                        events.Add(new LinkEvent(m.Header.Type == Nl.RTM_NEWLINK ? RtnetlinkChange.Added : RtnetlinkChange.Removed, link));
                    }

                    break;
                case Nl.RTM_NEWADDR or Nl.RTM_DELADDR:
                    if (AddressCodec.TryDecode(m.Header.Type, p, out var addr))
                    {
                        events.Add(new AddressEvent(m.Header.Type == Nl.RTM_NEWADDR ? RtnetlinkChange.Added : RtnetlinkChange.Removed, addr));
                    }

                    break;
                case Nl.RTM_NEWROUTE or Nl.RTM_DELROUTE:
                    if (RouteCodec.TryDecode(m.Header.Type, p, out var route))
                    {
                        events.Add(new RouteEvent(m.Header.Type == Nl.RTM_NEWROUTE ? RtnetlinkChange.Added : RtnetlinkChange.Removed, route));
                    }

                    break;
                case Nl.RTM_NEWNEIGH or Nl.RTM_DELNEIGH:
                    {
                        var change = m.Header.Type == Nl.RTM_NEWNEIGH ? RtnetlinkChange.Added : RtnetlinkChange.Removed;
                        if (NeighborCodec.TryDecodeFdb(m.Header.Type, p, out var fdb))
                        {
                            events.Add(new FdbEvent(change, fdb));
                        }
                        else if (NeighborCodec.TryDecodeNeighbor(m.Header.Type, p, out var neigh))
                        {
                            events.Add(new NeighborEvent(change, neigh));
                        }

                        break;
                    }

                case Nl.NLMSG_OVERRUN:
                    overrun = true;
                    break;
            }
        }

        return overrun;
    }
}
