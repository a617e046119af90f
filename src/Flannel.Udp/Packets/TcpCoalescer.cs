using System.Buffers.Binary;

namespace Flannel.Udp.Packets;

/// <summary>Receives the frames a <see cref="TcpCoalescer"/> produces: a virtio header and one (super-)packet.</summary>
internal interface IFrameSink
{
    void Emit(in VirtioNetHeader header, ReadOnlySpan<byte> packet);
}

/// <summary>
/// Userspace GRO for the TUN write side: consecutive in-order segments of one TCP flow are merged into a
/// super-packet handed to the kernel with a TSO virtio header, so the receiving stack handles one large packet
/// instead of dozens. Segments are merged only when their checksums verify (the kernel recomputes checksums of a
/// merged packet, so merging must not launder corruption) and their headers match except where TSO changes them.
/// </summary>
internal sealed class TcpCoalescer
{
    private const int MaxPacket = 65535;
    private readonly byte[] _buffer = new byte[MaxPacket];
    private readonly IFrameSink _sink;
    private int _length;      // bytes in _buffer; 0 = no run
    private int _segments;
    private int _hdr;         // IP + TCP header bytes
    private int _ihl;
    private int _mss;
    private uint _nextSeq;
    private bool _closed;     // the last segment was short or carried PSH: nothing may follow

    public TcpCoalescer(IFrameSink sink) => _sink = sink;

    /// <summary>Segments merged into runs so far (for tests and metrics).</summary>
    public long Merged { get; private set; }

    /// <summary>
    /// Offers one valid IPv4 packet (header checked, TTL already handled). Packets that cannot be merged are passed
    /// to the sink unchanged, after any run in progress, so order is kept.
    /// </summary>
    public void Add(ReadOnlySpan<byte> packet)
    {
        if (!Eligible(packet, out int ihl, out int thl))
        {
            Flush();
            _sink.Emit(default, packet);
            return;
        }

        int hdr = ihl + thl;
        int payload = packet.Length - hdr;
        if (_length != 0 && CanAppend(packet, ihl, hdr, payload))
        {
            packet[hdr..].CopyTo(_buffer.AsSpan(_length));
            _length += payload;
            _segments++;
            Merged++;
            _nextSeq += (uint)payload;
            if ((packet[ihl + 13] & 0x08) != 0)
            {
                _buffer[_ihl + 13] |= 0x08;
                _closed = true;
            }

            if (payload < _mss)
            {
                _closed = true;
            }

            return;
        }

        Flush();
        packet.CopyTo(_buffer);
        _length = packet.Length;
        _segments = 1;
        _hdr = hdr;
        _ihl = ihl;
        _mss = payload;
        _nextSeq = BinaryPrimitives.ReadUInt32BigEndian(packet[(ihl + 4)..]) + (uint)payload;
        _closed = (packet[ihl + 13] & 0x08) != 0;
    }

    /// <summary>Emits the run in progress, if any.</summary>
    public void Flush()
    {
        if (_length == 0)
        {
            return;
        }

        var pkt = _buffer.AsSpan(0, _length);
        if (_segments == 1)
        {
            _sink.Emit(default, pkt);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(pkt[2..], (ushort)_length);
            Checksum.SetIpv4HeaderChecksum(pkt);

            // For a partial checksum the field holds the folded pseudo-header sum (not complemented).
            var tcp = pkt[_ihl..];
            Checksum.Store(tcp, 16, Checksum.Fold(Checksum.PseudoHeader(pkt, Ipv4.ProtocolTcp, _length - _ihl)));
            var vnet = new VirtioNetHeader
            {
                Flags = VirtioNetHeader.FlagNeedsChecksum,
                GsoType = VirtioNetHeader.GsoTcpV4,
                HeaderLength = (ushort)_hdr,
                GsoSize = (ushort)_mss,
                ChecksumStart = (ushort)_ihl,
                ChecksumOffset = 16,
            };
            _sink.Emit(vnet, pkt);
        }

        _length = 0;
        _segments = 0;
    }

    private static bool Eligible(ReadOnlySpan<byte> packet, out int ihl, out int thl)
    {
        ihl = 0;
        thl = 0;
        if (packet[9] != Ipv4.ProtocolTcp)
        {
            return false;
        }

        ihl = Ipv4.HeaderLength(packet);
        // Unfragmented (MF clear, offset 0) and room for a TCP header.
        if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0 || packet.Length < ihl + 20)
        {
            return false;
        }

        thl = (packet[ihl + 12] >> 4) * 4;
        if (thl < 20 || ihl + thl >= packet.Length)
        {
            return false; // no payload: pure ACKs are not merged
        }

        // Only ACK, optionally PSH: no SYN, FIN, RST, URG, ECE, CWR.
        byte flags = packet[ihl + 13];
        if ((flags & ~0x18) != 0 || (flags & 0x10) == 0)
        {
            return false;
        }

        ulong sum = Checksum.PseudoHeader(packet, Ipv4.ProtocolTcp, packet.Length - ihl);
        return Checksum.Fold(Checksum.Add(packet[ihl..], sum)) == 0xFFFF;
    }

    private bool CanAppend(ReadOnlySpan<byte> packet, int ihl, int hdr, int payload)
    {
        if (_closed || ihl != _ihl || hdr != _hdr || payload > _mss || _length + payload > MaxPacket || _segments >= 64)
        {
            return false;
        }

        var run = _buffer.AsSpan();
        // IP: version/IHL, TOS, flags, TTL, protocol, addresses and options must match (length, id and checksum may not).
        if (packet[0] != run[0] || packet[1] != run[1] || packet[6] != run[6] || packet[8] != run[8] || packet[9] != run[9]
            || !packet.Slice(12, ihl - 12).SequenceEqual(run.Slice(12, ihl - 12)))
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt32BigEndian(packet[(ihl + 4)..]) != _nextSeq)
        {
            return false;
        }

        var t = packet[ihl..hdr];
        var r = run[ihl..hdr];
        // Ports, ack number, data offset, window and options equal; flags equal but for PSH.
        return t[..4].SequenceEqual(r[..4])
            && t.Slice(8, 5).SequenceEqual(r.Slice(8, 5))
            && (t[13] & ~0x08) == (r[13] & ~0x08)
            && t.Slice(14, 2).SequenceEqual(r.Slice(14, 2))
            && t[18..].SequenceEqual(r[18..]);
    }
}
