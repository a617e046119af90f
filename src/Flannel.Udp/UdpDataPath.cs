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

    // TUN → UDP buffers (egress thread only).
    private readonly byte* _frame;
    private readonly byte* _arena;
    private readonly MMsgHdr* _msgs;
    private readonly IoVec* _iov;
    private readonly SockAddrIn* _addrs;
    private readonly byte* _cmsgs;
    private readonly int* _msgPackets;
    private readonly int* _msgSegment;
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

    public UdpDataPath(TunDevice tun, UdpTunnelSocket socket, DataPathOptions options, ILogger logger)
    {
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

    /// <summary>The counters (live).</summary>
    public DataPathCounters Counters { get; } = new();

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
        _egress = new Thread(EgressLoop) { IsBackground = true, Name = "flannel-udp-tx" };
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

                    if (e != Libc.EAGAIN && !_stopping)
                    {
                        Log.PumpError(_logger, "read from TUN", Libc.Describe(e));
                    }

                    drained = true;
                    break;
                }

                HandleTunFrame(new Span<byte>(_frame, (int)n));
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
        Queue(_arenaUsed, pkt.Length, 0, 1, route);
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
        if (segment > 0)
        {
            var c = (CMsgHdr*)(_cmsgs + (24 * i));
            c->Length = 18; // CMSG_LEN(sizeof(u16))
            c->Level = Libc.SOL_UDP;
            c->Type = Libc.UDP_SEGMENT;
            *(ushort*)(c + 1) = (ushort)segment;
            h.Control = c;
            h.ControlLength = 24;
        }
        else
        {
            h.Control = null;
            h.ControlLength = 0;
        }

        _msgPackets[i] = packets;
        _msgSegment[i] = segment;
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
            }
        }
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

                int e = r < 0 ? Libc.LastError : Libc.EAGAIN;
                if (e != Libc.EINTR && e != Libc.EAGAIN)
                {
                    Log.PumpError(_logger, "recvmmsg", Libc.Describe(e));
                    Thread.Sleep(10); // never spin on a persistent error
                }

                continue;
            }

            var peers = Volatile.Read(ref _peers);
            for (int i = 0; i < r; i++)
            {
                HandleDatagrams(i, peers);
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

        foreach (var p in new nint[] { (nint)_frame, (nint)_arena, (nint)_msgs, (nint)_iov, (nint)_addrs, (nint)_cmsgs, (nint)_msgPackets, (nint)_msgSegment, (nint)_icmp, (nint)_slots, (nint)_rmsgs, (nint)_riov, (nint)_raddrs, (nint)_rcontrol, (nint)_zeroHeader })
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
