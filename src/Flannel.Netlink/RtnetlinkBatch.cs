using System.Buffers.Binary;
using System.Runtime.Versioning;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Diagnostics;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink;

/// <summary>
/// Many route/neighbour/FDB requests sent in few sendmsg() calls (up to 64 KiB each); only the last request of each
/// send asks for an ack, and the kernel reports every failing request on its own, so each request gets a result.
/// A batch can be cleared and reused; after warm-up, building and executing it allocates nothing per request.
/// Requests are kept in 64 KiB segments (below the large object heap), so a batch of thousands of peers leaves no
/// large buffers behind for a full garbage collection to find.
/// </summary>
/// <example>
/// <code>
/// var batch = rtnl.CreateBatch();
/// foreach (var peer in peers) batch.ReplaceRoute(new RouteSpec(peer.Subnet) { Gateway = peer.Vtep, Device = vtep.Index, OnLink = true });
/// var result = await batch.ExecuteAsync(ct);
/// result.ThrowIfAnyFailed();
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkBatch
{
    private const int SegmentBytes = 64 * 1024;
    private const int MaxRequestBytes = 4096;
    private const int EntryBlockShift = 10;
    private const int EntryBlockSize = 1 << EntryBlockShift;
    private readonly RtnetlinkClient _client;
    private readonly List<byte[]> _segments = [new byte[SegmentBytes]];
    private readonly List<Entry[]> _entryBlocks = [new Entry[EntryBlockSize]];
    private int _segment;
    private int _length;
    private int _count;

    internal RtnetlinkBatch(RtnetlinkClient client) => _client = client;

    /// <summary>The number of requests in the batch.</summary>
    public int Count => _count;

    /// <summary>Adds RTM_NEWROUTE with NLM_F_CREATE|NLM_F_EXCL.</summary>
    /// <param name="spec">The route.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch AddRoute(RouteSpec spec) => Add(Nl.RTM_NEWROUTE, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, RouteCodec.EncodeNew, false);

    /// <summary>Adds RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE.</summary>
    /// <param name="spec">The route.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch ReplaceRoute(RouteSpec spec) => Add(Nl.RTM_NEWROUTE, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, RouteCodec.EncodeNew, false);

    /// <summary>Adds RTM_DELROUTE (a missing route counts as success).</summary>
    /// <param name="spec">The route.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch DeleteRoute(RouteSpec spec) => Add(Nl.RTM_DELROUTE, 0, spec, RouteCodec.EncodeDelete, true);

    /// <summary>Adds RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_EXCL.</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch AddNeighbor(NeighborSpec spec) => Add(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, NeighborCodec.EncodeNew, false);

    /// <summary>Adds RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_REPLACE.</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch ReplaceNeighbor(NeighborSpec spec) => Add(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, NeighborCodec.EncodeNew, false);

    /// <summary>Adds RTM_DELNEIGH (a missing entry counts as success).</summary>
    /// <param name="interfaceIndex">The interface index.</param>
    /// <param name="address">The neighbour's IP address.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch DeleteNeighbor(int interfaceIndex, System.Net.IPAddress address) =>
        Add(Nl.RTM_DELNEIGH, 0, (interfaceIndex, address), NeighborCodec.EncodeDelete, true);

    /// <summary>Adds an FDB RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_EXCL.</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch AddFdb(FdbSpec spec) => Add(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, NeighborCodec.EncodeFdb, false);

    /// <summary>Adds an FDB RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_REPLACE.</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch ReplaceFdb(FdbSpec spec) => Add(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, NeighborCodec.EncodeFdb, false);

    /// <summary>Adds an FDB RTM_NEWNEIGH with NLM_F_CREATE|NLM_F_APPEND.</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch AppendFdb(FdbSpec spec) => Add(Nl.RTM_NEWNEIGH, Nl.NLM_F_CREATE | Nl.NLM_F_APPEND, spec, NeighborCodec.EncodeFdb, false);

    /// <summary>Adds an FDB RTM_DELNEIGH (a missing entry counts as success).</summary>
    /// <param name="spec">The entry.</param>
    /// <returns>This batch.</returns>
    public RtnetlinkBatch DeleteFdb(FdbSpec spec) => Add(Nl.RTM_DELNEIGH, 0, spec, NeighborCodec.EncodeFdbDelete, true);

    /// <summary>Empties the batch, keeping its buffers; results of an earlier execution become invalid.</summary>
    public void Clear()
    {
        _segment = 0;
        _length = 0;
        _count = 0;
    }

    private ref Entry EntryAt(int index) => ref _entryBlocks[index >> EntryBlockShift][index & (EntryBlockSize - 1)];

    private RtnetlinkBatch Add<T>(ushort type, ushort flags, T state, RtnetlinkClient.Encoder<T> encode, bool isDelete)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (SegmentBytes - _length < MaxRequestBytes)
        {
            _segment++;
            _length = 0;
            if (_segment == _segments.Count)
            {
                _segments.Add(new byte[SegmentBytes]);
            }
        }

        if (_count >> EntryBlockShift == _entryBlocks.Count)
        {
            _entryBlocks.Add(new Entry[EntryBlockSize]);
        }

        var w = new NetlinkWriter(_segments[_segment].AsSpan(_length, MaxRequestBytes));
        var start = w.BeginMessage(type, (ushort)(flags | Nl.NLM_F_REQUEST), 0);
        encode(ref w, state);
        w.EndMessage(start);
        EntryAt(_count++) = new Entry { Segment = _segment, Offset = _length, Length = w.Position, Type = type, IsDelete = isDelete };
        _length += w.Position;
        return this;
    }

    /// <summary>Sends every request and collects every result. Requests run in order; a failure does not stop the rest.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The per-request results (valid until the batch is changed).</returns>
    public async ValueTask<RtnetlinkBatchResult> ExecuteAsync(CancellationToken cancellationToken = default)
    {
        await _client.EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var baseSeq = _client.NextSequences(_count);
            for (var k = 0; k < _count; k++)
            {
                ref var e = ref EntryAt(k);
                e.Error = Errno.None;
                e.Message = null;
                var h = _segments[e.Segment].AsSpan(e.Offset);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(h[6..]);
                BinaryPrimitives.WriteUInt16LittleEndian(h[6..], (ushort)(flags & ~Nl.NLM_F_ACK));
                BinaryPrimitives.WriteUInt32LittleEndian(h[8..], unchecked(baseSeq + (uint)k));
            }

            var socket = _client.Socket;
            var receive = _client.ReceiveBuffer;
            var i = 0;
            while (i < _count)
            {
                // One send per segment: its requests are contiguous.
                var segment = EntryAt(i).Segment;
                var start = EntryAt(i).Offset;
                var j = i + 1;
                while (j < _count && EntryAt(j).Segment == segment)
                {
                    j++;
                }

                var last = j - 1;
                var buffer = _segments[segment];
                var lastHeader = buffer.AsSpan(EntryAt(last).Offset);
                BinaryPrimitives.WriteUInt16LittleEndian(lastHeader[6..], (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(lastHeader[6..]) | Nl.NLM_F_ACK));
                var end = EntryAt(last).Offset + EntryAt(last).Length;
                socket.Send(buffer.AsSpan(start, end - start));
                while (true)
                {
                    var n = await socket.ReceiveAsync(receive, cancellationToken).ConfigureAwait(false);
                    if (Scan(receive.AsSpan(0, n), baseSeq, last))
                    {
                        break;
                    }
                }

                i = j;
            }

            if (_client.Metrics is { } metrics)
            {
                Record(metrics);
            }

            var result = new RtnetlinkBatchResult(this);
            if (result.FailedCount > 0)
            {
                Log.BatchExecuted(_client.Logger, _count, result.FailedCount);
            }

            return result;
        }
        finally
        {
            _client.Exit();
        }
    }

    private bool Scan(ReadOnlySpan<byte> datagram, uint baseSeq, int last)
    {
        var done = false;
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            if (m.Header.Type != Nl.NLMSG_ERROR)
            {
                continue;
            }

            var index = unchecked((int)(m.Header.Sequence - baseSeq));
            if (index < 0 || index >= _count)
            {
                continue;
            }

            var errno = RtnetlinkClient.ReadErrno(m.Payload);
            if (errno != 0)
            {
                ref var e = ref EntryAt(index);
                e.Error = (Errno)errno;
                RtnetlinkClient.ParseExtendedAck(m, out e.Message, out _);
            }

            if (index == last)
            {
                done = true;
            }
        }

        return done;
    }

    internal RtnetlinkBatchItemResult GetResult(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        ref var e = ref EntryAt(index);
        return new RtnetlinkBatchItemResult(Nl.TypeName(e.Type), e.Error, e.Message, e.IsDelete);
    }

    /// <summary>Adds the batch's requests and failures to the instruments, once per message type (no allocation).</summary>
    private void Record(NetlinkMetrics metrics)
    {
        const int Types = 128;
        Span<int> requests = stackalloc int[Types];
        Span<int> failures = stackalloc int[Types];
        requests.Clear();
        failures.Clear();
        for (var k = 0; k < _count; k++)
        {
            ref var e = ref EntryAt(k);
            var failed = e.Error != Errno.None && !(e.IsDelete && Nl.IsMissing(e.Error));
            if (e.Type < Types)
            {
                requests[e.Type]++;
                failures[e.Type] += failed ? 1 : 0;
            }
            else
            {
                metrics.Request(e.Type);
                if (failed)
                {
                    metrics.Failed(e.Type);
                }
            }
        }

        for (var t = 0; t < Types; t++)
        {
            if (requests[t] > 0)
            {
                metrics.Requests((ushort)t, requests[t]);
            }

            if (failures[t] > 0)
            {
                metrics.Failures((ushort)t, failures[t]);
            }
        }
    }

    internal int CountFailures()
    {
        var failed = 0;
        for (var k = 0; k < _count; k++)
        {
            ref var e = ref EntryAt(k);
            if (e.Error != Errno.None && !(e.IsDelete && Protocol.Nl.IsMissing(e.Error)))
            {
                failed++;
            }
        }

        return failed;
    }

    private struct Entry
    {
        public int Segment;
        public int Offset;
        public int Length;
        public ushort Type;
        public bool IsDelete;
        public Errno Error;
        public string? Message;
    }
}
