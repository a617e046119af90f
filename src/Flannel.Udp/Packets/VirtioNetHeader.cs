using System.Runtime.InteropServices;

namespace Flannel.Udp.Packets;

/// <summary>
/// The 10-byte <c>struct virtio_net_hdr</c> that precedes every frame on a TUN opened with IFF_VNET_HDR
/// (host byte order: the TUN is not switched to big-endian).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct VirtioNetHeader
{
    public const int Size = 10;
    public const byte FlagNeedsChecksum = 1;
    public const byte FlagDataValid = 2;
    public const byte GsoNone = 0;
    public const byte GsoTcpV4 = 1;
    public const byte GsoUdp = 3;
    public const byte GsoTcpV6 = 4;
    public const byte GsoUdpL4 = 5;
    public const byte GsoEcn = 0x80;

    public byte Flags;
    public byte GsoType;
    public ushort HeaderLength;
    public ushort GsoSize;
    public ushort ChecksumStart;
    public ushort ChecksumOffset;

    public static VirtioNetHeader Read(ReadOnlySpan<byte> frame) => MemoryMarshal.Read<VirtioNetHeader>(frame);

    public readonly void Write(Span<byte> destination) => MemoryMarshal.Write(destination, in this);
}
