using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;

namespace Flannel.Netlink.Protocol;

/// <summary>Iterates the attributes (struct rtattr / nlattr) of a payload, validating every length.</summary>
internal ref struct AttributeReader
{
    private ReadOnlySpan<byte> _rest;

    public AttributeReader(ReadOnlySpan<byte> attributes) => _rest = attributes;

    /// <summary>Reads the next attribute; its type has NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off.</summary>
    public bool TryRead(out ushort type, out ReadOnlySpan<byte> value)
    {
        if (_rest.Length < 4)
        {
            // trailing bytes shorter than an attribute header are padding
            _rest = default;
            type = 0;
            value = default;
            return false;
        }

        var len = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        var raw = BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]);
        if (len < 4 || len > _rest.Length)
        {
            throw new NetlinkProtocolException($"attribute type {raw & Nl.NLA_TYPE_MASK} has invalid length {len} ({_rest.Length} bytes left)");
        }

        type = (ushort)(raw & Nl.NLA_TYPE_MASK);
        value = _rest[4..len];
        _rest = _rest[Math.Min(Nl.Align(len), _rest.Length)..];
        return true;
    }
}

/// <summary>Typed attribute values; each read checks the size and names the attribute when it is wrong.</summary>
internal static class Attr
{
    public static byte U8(ReadOnlySpan<byte> v, string name) =>
        v.Length >= 1 ? v[0] : throw Bad(name, v.Length, 1);

    public static ushort U16(ReadOnlySpan<byte> v, string name) =>
        v.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(v) : throw Bad(name, v.Length, 2);

    public static ushort U16BigEndian(ReadOnlySpan<byte> v, string name) =>
        v.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(v) : throw Bad(name, v.Length, 2);

    public static uint U32(ReadOnlySpan<byte> v, string name) =>
        v.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(v) : throw Bad(name, v.Length, 4);

    public static string String(ReadOnlySpan<byte> v)
    {
        var end = v.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? v[..end] : v);
    }

    public static IPAddress Address(ReadOnlySpan<byte> v, string name) => v.Length switch
    {
        4 or 16 => new IPAddress(v),
        _ => throw new NetlinkProtocolException($"{name} has {v.Length} bytes, expected an IPv4 (4) or IPv6 (16) address"),
    };

    /// <summary>An address attribute's bytes, checked to be an IPv4 (4) or IPv6 (16) address.</summary>
    public static ReadOnlySpan<byte> AddressBytes(ReadOnlySpan<byte> v, string name) => v.Length switch
    {
        4 or 16 => v,
        _ => throw new NetlinkProtocolException($"{name} has {v.Length} bytes, expected an IPv4 (4) or IPv6 (16) address"),
    };

    public static PhysicalAddress Mac(ReadOnlySpan<byte> v) => new(v.ToArray());

    private static NetlinkProtocolException Bad(string name, int actual, int expected) =>
        new($"{name} has {actual} bytes, expected {expected}");
}
