using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using System.Text;

namespace Flannel.Netlink.Protocol;

/// <summary>
/// Writes netlink messages and attributes into a caller-supplied span. Lengths are back-patched: a message by
/// <see cref="EndMessage"/>, a nested attribute by <see cref="EndNested"/>. Padding bytes are zeroed.
/// </summary>
internal ref struct NetlinkWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public NetlinkWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly Span<byte> Written => _buffer[.._position];

    public int BeginMessage(ushort type, ushort flags, uint sequence)
    {
        var start = _position;
        var h = new NetlinkHeader { Type = type, Flags = flags, Sequence = sequence };
        WriteStruct(in h);
        return start;
    }

    public readonly void EndMessage(int start) =>
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer[start..], (uint)(_position - start));

    public void WriteStruct<T>(in T value)
        where T : unmanaged
    {
        var size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        EnsureSpace(size);
        MemoryMarshal.Write(_buffer.Slice(_position, size), in value);
        _position += size;
        Pad();
    }

    public void WriteBytes(ushort type, scoped ReadOnlySpan<byte> value)
    {
        var len = 4 + value.Length;
        EnsureSpace(Nl.Align(len));
        WriteAttrHeader(type, (ushort)len);
        value.CopyTo(_buffer[_position..]);
        _position += value.Length;
        Pad();
    }

    public void WriteUInt8(ushort type, byte value)
    {
        Span<byte> b = stackalloc byte[1];
        b[0] = value;
        WriteBytes(type, b);
    }

    public void WriteUInt16(ushort type, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        WriteBytes(type, b);
    }

    public void WriteUInt16BigEndian(ushort type, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, value);
        WriteBytes(type, b);
    }

    public void WriteUInt32(ushort type, uint value)
    {
        EnsureSpace(8);
        WriteAttrHeader(type, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer[_position..], value);
        _position += 4;
    }

    public void WriteInt32(ushort type, int value) => WriteUInt32(type, unchecked((uint)value));

    public void WriteString(ushort type, string value)
    {
        var n = Encoding.UTF8.GetByteCount(value);
        var len = 4 + n + 1;
        EnsureSpace(Nl.Align(len));
        WriteAttrHeader(type, (ushort)len);
        Encoding.UTF8.GetBytes(value, _buffer[_position..]);
        _position += n;
        _buffer[_position++] = 0;
        Pad();
    }

    public void WriteAddress(ushort type, IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (!address.TryWriteBytes(b, out var n))
        {
            throw new ArgumentException($"cannot encode address {address}", nameof(address));
        }

        WriteBytes(type, b[..n]);
    }

    public void WriteMac(ushort type, PhysicalAddress mac)
    {
        WriteBytes(type, MacBytes(mac));
    }

    /// <summary>The address bytes without a copy (PhysicalAddress.GetAddressBytes allocates one on every call).</summary>
    private static ReadOnlySpan<byte> MacBytes(PhysicalAddress mac)
    {
        try
        {
            return AddressField(mac);
        }
        catch (MissingFieldException)
        {
            return mac.GetAddressBytes();
        }
    }

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_address")]
    private static extern ref byte[] AddressField(PhysicalAddress mac);

    public void WriteFlag(ushort type) => WriteBytes(type, []);

    public int BeginNested(ushort type)
    {
        EnsureSpace(4);
        var start = _position;
        WriteAttrHeader((ushort)(type | Nl.NLA_F_NESTED), 0);
        return start;
    }

    /// <summary>Begins an attribute whose payload is written by further calls (no NLA_F_NESTED flag, e.g. VETH_INFO_PEER).</summary>
    public int BeginRaw(ushort type)
    {
        EnsureSpace(4);
        var start = _position;
        WriteAttrHeader(type, 0);
        return start;
    }

    public readonly void EndNested(int start) =>
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[start..], (ushort)(_position - start));

    private void WriteAttrHeader(ushort type, ushort length)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[_position..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer[(_position + 2)..], type);
        _position += 4;
    }

    private void Pad()
    {
        var aligned = Nl.Align(_position);
        EnsureSpace(aligned - _position);
        _buffer[_position..aligned].Clear();
        _position = aligned;
    }

    private readonly void EnsureSpace(int n)
    {
        if (_position + n > _buffer.Length)
        {
            throw new InvalidOperationException($"netlink request larger than the {_buffer.Length}-byte buffer");
        }
    }
}
