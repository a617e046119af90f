using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Flannel.Udp.Interop;
using Flannel.Udp.Packets;
using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

/// <summary>Tuning of the data path.</summary>
internal sealed record DataPathOptions
{
    /// <summary>The TUN device's address (the source of ICMP replies), host order.</summary>
    public required uint TunAddress { get; init; }

    /// <summary>TUN reads per wake-up before the collected datagrams are sent (one sendmmsg).</summary>
    public int Batch { get; init; } = 64;

    /// <summary>Merge received TCP segments into super-packets on the TUN (needs a vnet-header TUN).</summary>
    public bool Coalesce { get; init; } = true;

    /// <summary>
    /// Hand TUN frames from a reader thread to a sender thread through a <see cref="System.IO.Pipelines.Pipe"/> instead of
    /// reading and sending on one thread (kept for the benchmark that compares the two; the direct loop is the default).
    /// </summary>
    public bool Pipelines { get; init; }
}

/// <summary>
/// The forwarder: one dedicated thread per direction with blocking syscalls.
/// TUN → UDP reads frames until the TUN is drained (or the batch is full), splits TSO super-packets, and sends
/// everything with one <c>sendmmsg</c> (each message a UDP GSO train where possible). UDP → TUN receives a batch with
/// <c>recvmmsg</c> (each message possibly a UDP GRO train), checks every packet and writes it to the TUN, merging
/// in-order TCP segments into super-packets. The peer table is an immutable snapshot read without locks.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class UdpDataPath : IFrameSink, IDisposable
{
    private const int FrameSize = 65536 + VirtioNetHeader.Size;
    private const int ArenaSize = 4 << 20;
    private const int MaxMessages = 1024;
    private const int MaxGsoSegments = 64;
    private const int MaxGsoBytes = 65000;
    private const int RecvBatch = 32;
    private const int RecvSlot = 65536;
    private const int ControlSize = 64;

    private readonly TunDevice _tun;
    private readonly UdpTunnelSocket _socket;
    private readonly DataPathOptions _options;
    private readonly ILogger _logger;
    private readonly int _stopFd;
    private readonly TcpCoalescer? _coalescer;
    private PeerTable _peers = PeerTable.Empty;
    private Thread? _egress;
    private Thread? _ingress;
    private volatile bool _stopping;
    private bool _gso;
    private int _disposed;
    private int _unexpectedLogged;
    private volatile int _tunError;
    private volatile int _receiveError;
    private volatile int _lastSendError;
    private uint _lastSendPeer;

    // TUN → UDP buffers (egress thread only).
    private readonly byte* _frame;
    private readonly byte* _arena;
    private readonly MMsgHdr* _msgs;
    private readonly IoVec* _iov;
    private readonly SockAddrIn* _addrs;
    private readonly byte* _cmsgs;
    private readonly int* _msgPackets;
    private readonly int* _msgSegment;
    private readonly bool* _open;
    private readonly byte* _icmp;
    private int _arenaUsed;
    private int _count;

    // UDP → TUN buffers (ingress thread only).
    private readonly byte* _slots;
    private readonly MMsgHdr* _rmsgs;
    private readonly IoVec* _riov;
    private readonly SockAddrIn* _raddrs;
    private readonly byte* _rcontrol;
    private readonly byte* _zeroHeader;

    public UdpDataPath(TunDevice tun, UdpTunnelSocket socket, DataPathOptions options, ILogger logger, DataPathCounters? counters = null)
    {
        Counters = counters ?? new DataPathCounters();
        _tun = tun;
        _socket = socket;
        _options = options;
        _logger = logger;
        _gso = socket.Gso;
        _stopFd = Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_stopFd < 0)
        {
            throw Libc.Error("eventfd", Libc.LastError);
        }

        _frame = Alloc(FrameSize);
        _arena = Alloc(ArenaSize);
        _msgs = (MMsgHdr*)Alloc(sizeof(MMsgHdr) * MaxMessages);
        _iov = (IoVec*)Alloc(sizeof(IoVec) * MaxMessages);
        _addrs = (SockAddrIn*)Alloc(sizeof(SockAddrIn) * MaxMessages);
        _cmsgs = Alloc(24 * MaxMessages);
        _msgPackets = (int*)Alloc(sizeof(int) * MaxMessages);
        _msgSegment = (int*)Alloc(sizeof(int) * MaxMessages);
        _open = (bool*)Alloc(MaxMessages);
        _icmp = Alloc(VirtioNetHeader.Size + IcmpUnreachable.MaxLength);

        _slots = Alloc(RecvSlot * RecvBatch);
        _rmsgs = (MMsgHdr*)Alloc(sizeof(MMsgHdr) * RecvBatch);
        _riov = (IoVec*)Alloc(sizeof(IoVec) * RecvBatch);
        _raddrs = (SockAddrIn*)Alloc(sizeof(SockAddrIn) * RecvBatch);
        _rcontrol = Alloc(ControlSize * RecvBatch);
        _zeroHeader = Alloc(VirtioNetHeader.Size);
        for (int i = 0; i < RecvBatch; i++)
        {
            _riov[i] = new IoVec { Base = _slots + ((nint)i * RecvSlot), Length = RecvSlot };
            _rmsgs[i].Header.Iov = &_riov[i];
            _rmsgs[i].Header.IovLength = 1;
            _rmsgs[i].Header.Name = &_raddrs[i];
        }

        if (tun.VnetHeader && options.Coalesce)
        {
            _coalescer = new TcpCoalescer(this);
        }
    }

    /// <summary>The counters (live; shared with the data path this one replaced, if any).</summary>
    public DataPathCounters Counters { get; }

    /// <summary>The TUN device.</summary>
    public TunDevice Tun => _tun;

    /// <summary>The UDP socket.</summary>
    public UdpTunnelSocket Socket => _socket;

    /// <summary>
    /// Called (from a pump thread) when a fault begins: the TUN read fails, a receive fails, or a send fails with an error
    /// that is not transient. Must not block.
    /// </summary>
    public Action? FaultSignal { get; set; }

    /// <summary>The errno of the TUN read that failed (the device was deleted: EBADFD), or 0. The egress pump ends then.</summary>
    public int TunError => _tunError;

    /// <summary>The errno of the last failed receive when no receive succeeded since, or 0.</summary>
    public int ReceiveError => _receiveError;

    /// <summary>The errno of the last send that failed with an error that is not transient, or 0 if none did.</summary>
    public int LastSendError => _lastSendError;

    /// <summary>The peer (host order) of the last send that failed with an error that is not transient.</summary>
    public uint LastSendPeer => Volatile.Read(ref _lastSendPeer);

    /// <summary>True while the TUN → UDP pump runs.</summary>
    public bool EgressAlive => _egress?.IsAlive ?? false;

    /// <summary>True while the UDP → TUN pump runs.</summary>
    public bool IngressAlive => _ingress?.IsAlive ?? false;

    /// <summary>
    /// Whether a send error is transient: the socket buffer is full (EAGAIN, ENOBUFS, ENOMEM), an interrupted call, or a
    /// peer's earlier ICMP port unreachable (ECONNREFUSED) — none says the data path is broken.
    /// </summary>
    public static bool IsTransientSendError(int errno) =>
        errno is Libc.EAGAIN or Libc.EINTR or Libc.ENOBUFS or Libc.ENOMEM or Libc.ECONNREFUSED;

    /// <summary>Whether a send error says the socket itself is unusable (so a new one is needed).</summary>
    public static bool IsSocketBroken(int errno) =>
        errno is Libc.EBADF or Libc.ENOTSOCK or Libc.EPIPE or Libc.ENOTCONN or Libc.EDESTADDRREQ;

    /// <summary>True while UDP GSO is in use for sends.</summary>
    public bool GsoActive => Volatile.Read(ref _gso);

    /// <summary>The current peer table.</summary>
    public PeerTable Peers => Volatile.Read(ref _peers);

    /// <summary>Publishes a new peer table; the pumps use it from their next packet.</summary>
    public void UpdatePeers(PeerTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        Volatile.Write(ref _peers, table);
    }

    /// <summary>Starts the two pump threads.</summary>
    public void Start()
    {
        _egress = new Thread(_options.Pipelines ? PipelinedEgressLoop : EgressLoop) { IsBackground = true, Name = "flannel-udp-tx" };
        _ingress = new Thread(IngressLoop) { IsBackground = true, Name = "flannel-udp-rx" };
        _egress.Start();
        _ingress.Start();
    }

    // ---------------------------------------------------------------- TUN → UDP

    private void EgressLoop()
    {
        var fds = stackalloc PollFd[2];
        int tunFd = _tun.Fd;
        while (!_stopping)
        {
            bool drained = false;
            for (int reads = 0; reads < _options.Batch; reads++)
            {
                nint n = Libc.Read(tunFd, _frame, FrameSize);
                if (n < 0)
                {
                    int e = Libc.LastError;
                    if (e == Libc.EINTR)
                    {
                        continue;
                    }

                    if (e != Libc.EAGAIN)
                    {
                        // A TUN the kernel detached (deleted: EBADFD) polls readable for ever; end the pump instead of
                        // spinning, and let the network rebuild the data path.
                        FlushSends();
                        TunFailed(e);
                        return;
                    }

                    drained = true;
                    break;
                }

                try
                {
                    HandleTunFrame(new Span<byte>(_frame, (int)n));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Unexpected(Counters.EgressDrops, ex);
                }
                if (_arenaUsed > ArenaSize - (2 * FrameSize) || _count > MaxMessages - 64)
                {
                    FlushSends();
                }
            }

            FlushSends();
            if (drained && !WaitReadable(fds, tunFd))
            {
                return;
            }
        }
    }

    private void PipelinedEgressLoop()
    {
        var pipe = new System.IO.Pipelines.Pipe(new System.IO.Pipelines.PipeOptions(
            pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20, minimumSegmentSize: 2 * FrameSize, useSynchronizationContext: false));
        var sender = new Thread(() => PipeSender(pipe.Reader)) { IsBackground = true, Name = "flannel-udp-tx-send" };
        sender.Start();
        var fds = stackalloc PollFd[2];
        int tunFd = _tun.Fd;
        var writer = pipe.Writer;
        try
        {
            while (!_stopping)
            {
                bool drained = false;
                for (int reads = 0; reads < _options.Batch; reads++)
                {
                    var span = writer.GetSpan(FrameSize + 4);
                    nint n;
                    fixed (byte* p = span)
                    {
                        n = Libc.Read(tunFd, p + 4, FrameSize);
                    }

                    if (n < 0)
                    {
                        int e = Libc.LastError;
                        if (e == Libc.EINTR)
                        {
                            continue;
                        }

                        if (e != Libc.EAGAIN)
                        {
                            TunFailed(e);
                            return;
                        }

                        drained = true;
                        break;
                    }

                    BinaryPrimitives.WriteInt32LittleEndian(span, (int)n);
                    writer.Advance(4 + (int)n);
                }

                writer.FlushAsync().AsTask().GetAwaiter().GetResult();
                if (drained && !WaitReadable(fds, tunFd))
                {
                    break;
                }
            }
        }
        finally
        {
            writer.Complete();
            sender.Join();
        }
    }

    private void PipeSender(System.IO.Pipelines.PipeReader reader)
    {
        while (true)
        {
            var result = reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            var buffer = result.Buffer;
            foreach (var segment in buffer)
            {
                var mem = MemoryMarshal.AsMemory(segment).Span;
                while (mem.Length >= 4)
                {
                    int n = BinaryPrimitives.ReadInt32LittleEndian(mem);
                    HandleTunFrame(mem.Slice(4, n));
                    mem = mem[(4 + n)..];
                    if (_arenaUsed > ArenaSize - (2 * FrameSize) || _count > MaxMessages - 64)
                    {
                        FlushSends();
                    }
                }
            }

            FlushSends();
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                reader.Complete();
                return;
            }
        }
    }

    private bool WaitReadable(PollFd* fds, int fd)
    {
        fds[0] = new PollFd { Fd = fd, Events = Libc.POLLIN };
        fds[1] = new PollFd { Fd = _stopFd, Events = Libc.POLLIN };
        while (true)
        {
            int r = Libc.Poll(fds, 2, -1);
            if (_stopping)
            {
                return false;
            }

            if (r < 0)
            {
                int e = Libc.LastError;
                if (e == Libc.EINTR)
                {
                    continue;
                }

                Log.PumpError(_logger, "poll", Libc.Describe(e));
                return false;
            }

            return true;
        }
    }

    private void HandleTunFrame(Span<byte> frame)
    {
        Counters.TunReads++;
        VirtioNetHeader hdr = default;
        var pkt = frame;
        if (_tun.VnetHeader)
        {
            if (frame.Length < VirtioNetHeader.Size)
            {
                DropEgress(DropReason.BadFrame);
                return;
            }

            hdr = VirtioNetHeader.Read(frame);
            pkt = frame[VirtioNetHeader.Size..];
        }

        if (Ipv4.Validate(pkt) is { } reason)
        {
            DropEgress(reason);
            return;
        }

        var peers = Volatile.Read(ref _peers);
        if (!peers.TryLookup(Ipv4.Destination(pkt), out var route))
        {
            DropEgress(DropReason.NoRoute);
            if (IcmpUnreachable.MayReplyTo(pkt))
            {
                SendIcmp(pkt);
            }

            return;
        }

        if (pkt[8] <= 1)
        {
            DropEgress(DropReason.TtlExpired);
            return;
        }

        int gsoType = hdr.GsoType & ~VirtioNetHeader.GsoEcn;
        if (gsoType == VirtioNetHeader.GsoTcpV4)
        {
            SegmentAndQueue(pkt, hdr.GsoSize, route);
            return;
        }

        if (gsoType != VirtioNetHeader.GsoNone
            || ((hdr.Flags & VirtioNetHeader.FlagNeedsChecksum) != 0 && !Offload.CompleteChecksum(pkt, hdr.ChecksumStart, hdr.ChecksumOffset)))
        {
            DropEgress(DropReason.BadFrame);
            return;
        }

        Checksum.DecrementTtl(pkt);
        var dst = new Span<byte>(_arena + _arenaUsed, pkt.Length);
        pkt.CopyTo(dst);
        if (!TryExtendTrain(_arenaUsed, pkt.Length, route))
        {
            Queue(_arenaUsed, pkt.Length, 0, 1, route);
            _open[_count - 1] = true;
        }

        _arenaUsed += pkt.Length;
    }

    private void SegmentAndQueue(Span<byte> pkt, int mss, in PeerRoute route)
    {
        int room = ArenaSize - _arenaUsed;
        int written = Offload.SegmentTcp(pkt, mss, new Span<byte>(_arena + _arenaUsed, room), out int segLen, out int count);
        if (written < 0)
        {
            DropEgress(DropReason.BadFrame);
            return;
        }

        int start = _arenaUsed;
        _arenaUsed += written;
        if (!_gso || count == 1)
        {
            for (int i = 0; i < count; i++)
            {
                int len = Math.Min(segLen, written - (i * segLen));
                Queue(start + (i * segLen), len, 0, 1, route);
            }

            return;
        }

        int perMessage = Math.Min(MaxGsoSegments, MaxGsoBytes / segLen);
        for (int i = 0; i < count; i += perMessage)
        {
            int n = Math.Min(perMessage, count - i);
            int off = start + (i * segLen);
            int len = Math.Min(n * segLen, start + written - off);
            Queue(off, len, n > 1 ? segLen : 0, n, route);
        }
    }

    /// <summary>
    /// Appends a single packet to the previous message when that message goes to the same peer, ends right where this
    /// packet starts in the arena, and its packets are as long as this one (only the last may be shorter): consecutive
    /// packets of a flow then leave as one UDP GSO train. On the wire they are still one packet per datagram; a
    /// receiver with UDP_GRO gets the train in one piece, any other receiver gets separate datagrams.
    /// </summary>
    private bool TryExtendTrain(int offset, int length, in PeerRoute route)
    {
        if (!_gso || _count == 0)
        {
            return false;
        }

        int j = _count - 1;
        if (!_open[j] || _msgPackets[j] >= MaxGsoSegments
            || _addrs[j].AddressNetworkOrder != BinaryPrimitives.ReverseEndianness(route.PeerAddress)
            || _addrs[j].PortBigEndian != BinaryPrimitives.ReverseEndianness(route.Port)
            || _iov[j].Base + _iov[j].Length != _arena + offset)
        {
            return false;
        }

        int seg = _msgSegment[j] == 0 ? (int)_iov[j].Length : _msgSegment[j];
        if (length > seg || (int)_iov[j].Length + length > MaxGsoBytes)
        {
            return false;
        }

        if (_msgSegment[j] == 0)
        {
            SetSegment(j, seg);
        }

        _iov[j].Length += (nuint)length;
        _msgPackets[j]++;
        if (length < seg)
        {
            _open[j] = false; // a shorter datagram ends a train
        }

        return true;
    }

    private void SetSegment(int i, int segment)
    {
        var c = (CMsgHdr*)(_cmsgs + (24 * i));
        c->Length = 18; // CMSG_LEN(sizeof(u16))
        c->Level = Libc.SOL_UDP;
        c->Type = Libc.UDP_SEGMENT;
        *(ushort*)(c + 1) = (ushort)segment;
        _msgs[i].Header.Control = c;
        _msgs[i].Header.ControlLength = 24;
        _msgSegment[i] = segment;
    }

    private void Queue(int offset, int length, int segment, int packets, in PeerRoute route)
    {
        if (_count == MaxMessages)
        {
            FlushSends(resetArena: false);
        }

        int i = _count++;
        _addrs[i] = new SockAddrIn
        {
            Family = Libc.AF_INET,
            PortBigEndian = BinaryPrimitives.ReverseEndianness(route.Port),
            AddressNetworkOrder = BinaryPrimitives.ReverseEndianness(route.PeerAddress),
        };
        _iov[i] = new IoVec { Base = _arena + offset, Length = (nuint)length };
        ref var h = ref _msgs[i].Header;
        h.Name = &_addrs[i];
        h.NameLength = 16;
        h.Iov = &_iov[i];
        h.IovLength = 1;
        h.Flags = 0;
        h.Control = null;
        h.ControlLength = 0;
        _msgSegment[i] = 0;
        if (segment > 0)
        {
            SetSegment(i, segment);
        }

        _msgPackets[i] = packets;
        _open[i] = false;
    }

    private void FlushSends(bool resetArena = true)
    {
        int fd = _socket.Fd;
        int sent = 0;
        while (sent < _count)
        {
            int r = Libc.SendMmsg(fd, _msgs + sent, (uint)(_count - sent), 0);
            if (r < 0)
            {
                int e = Libc.LastError;
                if (e == Libc.EINTR)
                {
                    continue;
                }

                if (_msgSegment[sent] > 0 && e is Libc.EIO or Libc.EINVAL)
                {
                    Volatile.Write(ref _gso, false);
                    Log.GsoDisabled(_logger, Libc.Describe(e));
                    SendOneByOne(sent);
                }
                else
                {
                    Counters.EgressDrops[(int)DropReason.SendFailed] += _msgPackets[sent];
                    SendFailed(e, _msgPackets[sent], _addrs[sent].AddressNetworkOrder);
                }

                sent++;
                continue;
            }

            for (int i = sent; i < sent + r; i++)
            {
                Counters.EgressPackets += _msgPackets[i];
                Counters.EgressBytes += (long)_iov[i].Length;
            }

            sent += r;
        }

        _count = 0;
        if (resetArena)
        {
            _arenaUsed = 0;
        }
    }

    private void SendOneByOne(int index)
    {
        ref var m = ref _msgs[index];
        int seg = _msgSegment[index];
        byte* p = _iov[index].Base;
        int total = (int)_iov[index].Length;
        var msg = default(MMsgHdr);
        var iov = default(IoVec);
        msg.Header.Name = m.Header.Name;
        msg.Header.NameLength = 16;
        msg.Header.Iov = &iov;
        msg.Header.IovLength = 1;
        for (int off = 0; off < total; off += seg)
        {
            iov.Base = p + off;
            iov.Length = (nuint)Math.Min(seg, total - off);
            if (Libc.SendMmsg(_socket.Fd, &msg, 1, 0) == 1)
            {
                Counters.EgressPackets++;
                Counters.EgressBytes += (long)iov.Length;
            }
            else
            {
                Counters.EgressDrops[(int)DropReason.SendFailed]++;
                SendFailed(Libc.LastError, 1, ((SockAddrIn*)m.Header.Name)->AddressNetworkOrder);
            }
        }
    }

    private void SendFailed(int errno, int packets, uint peerNetworkOrder)
    {
        if (IsTransientSendError(errno) || _stopping)
        {
            return;
        }

        Counters.SendErrors += packets;
        Volatile.Write(ref _lastSendPeer, BinaryPrimitives.ReverseEndianness(peerNetworkOrder));
        if (_lastSendError != errno)
        {
            // Once per new error: a failing send per batch must not turn into a check per batch.
            _lastSendError = errno;
            Log.PumpError(_logger, "sendmmsg", Libc.Name(errno));
            FaultSignal?.Invoke();
        }
    }

    private void TunFailed(int errno)
    {
        if (_stopping)
        {
            return;
        }

        _tunError = errno;
        Log.PumpError(_logger, $"read from TUN {_tun.Name}", Libc.Name(errno));
        FaultSignal?.Invoke();
    }

    private void SendIcmp(ReadOnlySpan<byte> offending)
    {
        int hdr = _tun.VnetHeader ? VirtioNetHeader.Size : 0;
        new Span<byte>(_icmp, hdr).Clear();
        int len = IcmpUnreachable.Write(offending, _options.TunAddress, new Span<byte>(_icmp + hdr, IcmpUnreachable.MaxLength));
        if (Libc.Write(_tun.Fd, _icmp, (nuint)(hdr + len)) == hdr + len)
        {
            Counters.IcmpSent++;
        }
    }

    private void DropEgress(DropReason reason) => Counters.EgressDrops[(int)reason]++;

    /// <summary>A packet that broke an invariant of the code (a bug, not bad input): drop it, say so once, keep forwarding.</summary>
    private void Unexpected(long[] drops, Exception ex)
    {
        drops[(int)DropReason.BadFrame]++;
        if (Interlocked.Exchange(ref _unexpectedLogged, 1) == 0)
        {
            Log.PumpError(_logger, "packet handling", ex.ToString());
        }
    }

    // ---------------------------------------------------------------- UDP → TUN

    private void IngressLoop()
    {
        int fd = _socket.Fd;
        while (!_stopping)
        {
            for (int i = 0; i < RecvBatch; i++)
            {
                ref var h = ref _rmsgs[i].Header;
                h.NameLength = 16;
                h.Control = _rcontrol + (i * ControlSize);
                h.ControlLength = ControlSize;
                h.Flags = 0;
            }

            // Blocks for the first datagram, then takes whatever else is queued: one syscall per wake-up.
            int r = Libc.RecvMmsg(fd, _rmsgs, RecvBatch, Libc.MSG_WAITFORONE, null);
            if (r <= 0)
            {
                if (_stopping)
                {
                    return;
                }

                // 0 messages from a blocking socket: it was shut down (only Dispose does that here).
                int e = r < 0 ? Libc.LastError : Libc.ENOTCONN;
                if (e != Libc.EINTR && e != Libc.EAGAIN)
                {
                    if (_receiveError == 0)
                    {
                        _receiveError = e;
                        Log.PumpError(_logger, "recvmmsg", Libc.Name(e)); // once per run of failures
                        FaultSignal?.Invoke();
                    }

                    Thread.Sleep(10); // never spin on a persistent error
                }

                continue;
            }

            if (r > 0 && _rmsgs[0].Length == 0 && _rmsgs[0].Header.NameLength == 0)
            {
                if (_stopping)
                {
                    return; // Dispose shut it down
                }

                // A shut-down socket "receives" empty messages from nobody at once, for ever (a real empty datagram
                // has a source address): a fault, not traffic.
                if (_receiveError == 0)
                {
                    _receiveError = Libc.ESHUTDOWN;
                    Log.PumpError(_logger, "recvmmsg", "the socket was shut down");
                    FaultSignal?.Invoke();
                }

                Thread.Sleep(10);
                continue;
            }

            if (_receiveError != 0)
            {
                _receiveError = 0;
            }

            var peers = Volatile.Read(ref _peers);
            for (int i = 0; i < r; i++)
            {
                try
                {
                    HandleDatagrams(i, peers);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Unexpected(Counters.IngressDrops, ex);
                }
            }

            _coalescer?.Flush();
        }
    }

    private void HandleDatagrams(int i, PeerTable peers)
    {
        ref var m = ref _rmsgs[i];
        int len = (int)m.Length;
        int gso = len;
        if ((nint)m.Header.ControlLength >= sizeof(CMsgHdr))
        {
            var c = (CMsgHdr*)m.Header.Control;
            if (c->Level == Libc.SOL_UDP && c->Type == Libc.UDP_GRO)
            {
                gso = *(int*)(c + 1);
            }
        }

        if (gso <= 0)
        {
            gso = len;
        }

        if ((m.Header.Flags & Libc.MSG_TRUNC) != 0)
        {
            Counters.IngressDrops[(int)DropReason.Truncated]++;
            return;
        }

        uint source = BinaryPrimitives.ReverseEndianness(_raddrs[i].AddressNetworkOrder);
        if (!peers.IsPeer(source))
        {
            Counters.IngressDrops[(int)DropReason.UnknownSource] += len == 0 ? 1 : (len + gso - 1) / gso;
            return;
        }

        if (len == 0)
        {
            Counters.IngressDrops[(int)DropReason.Truncated]++;
            return;
        }

        byte* p = _slots + ((nint)i * RecvSlot);
        for (int off = 0; off < len; off += gso)
        {
            HandleInner(new Span<byte>(p + off, Math.Min(gso, len - off)));
        }
    }

    private void HandleInner(Span<byte> pkt)
    {
        if (Ipv4.Validate(pkt) is { } reason)
        {
            Counters.IngressDrops[(int)reason]++;
            return;
        }

        if (Checksum.DecrementTtl(pkt) == 0)
        {
            Counters.IngressDrops[(int)DropReason.TtlExpired]++;
            return;
        }

        Counters.IngressPackets++;
        Counters.IngressBytes += pkt.Length;
        if (_coalescer is not null)
        {
            _coalescer.Add(pkt);
        }
        else
        {
            Emit(default, pkt);
        }
    }

    /// <summary>Writes one frame to the TUN (the coalescer's sink, and the direct path).</summary>
    public void Emit(in VirtioNetHeader header, ReadOnlySpan<byte> packet)
    {
        nint r;
        fixed (byte* p = packet)
        {
            if (_tun.VnetHeader)
            {
                var h = header;
                var iov = stackalloc IoVec[2];
                iov[0] = new IoVec { Base = (byte*)&h, Length = VirtioNetHeader.Size };
                iov[1] = new IoVec { Base = p, Length = (nuint)packet.Length };
                r = Libc.Writev(_tun.Fd, iov, 2);
            }
            else
            {
                r = Libc.Write(_tun.Fd, p, (nuint)packet.Length);
            }
        }

        if (r < 0)
        {
            Counters.IngressDrops[(int)DropReason.TunWriteFailed]++;
        }
        else
        {
            Counters.TunWrites++;
        }
    }

    // ---------------------------------------------------------------- lifetime

    /// <summary>Stops the pumps and closes the TUN (which then disappears) and the socket.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping = true;
        ulong one = 1;
        Libc.Write(_stopFd, (byte*)&one, 8);
        Libc.Shutdown(_socket.Fd, Libc.SHUT_RDWR); // wakes the blocked recvmmsg
        _egress?.Join(TimeSpan.FromSeconds(5));
        _ingress?.Join(TimeSpan.FromSeconds(5));
        _tun.Dispose();
        _socket.Dispose();
        Libc.Close(_stopFd);
        if ((_egress?.IsAlive ?? false) || (_ingress?.IsAlive ?? false))
        {
            return; // never free memory a pump might still touch
        }

        foreach (var p in new nint[] { (nint)_frame, (nint)_arena, (nint)_msgs, (nint)_iov, (nint)_addrs, (nint)_cmsgs, (nint)_msgPackets, (nint)_msgSegment, (nint)_open, (nint)_icmp, (nint)_slots, (nint)_rmsgs, (nint)_riov, (nint)_raddrs, (nint)_rcontrol, (nint)_zeroHeader })
        {
            NativeMemory.AlignedFree((void*)p);
        }
    }

    private static byte* Alloc(int size)
    {
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)size, 64);
        new Span<byte>(p, size).Clear();
        return p;
    }
}
