using System.Net;
using System.Net.Sockets;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink.Codecs;

/// <summary>Address requests and replies (RTM_*ADDR).</summary>
internal static class AddressCodec
{
    public static void Encode(ref NetlinkWriter w, AddressSpec spec)
    {
        var v6 = spec.Address.AddressFamily == AddressFamily.InterNetworkV6;
        w.WriteStruct(new AddressHeader
        {
            Family = v6 ? Nl.AF_INET6 : Nl.AF_INET,
            PrefixLength = (byte)spec.PrefixLength,
            Flags = spec.NoDad ? Ifa.FlagNoDad : (byte)0,
            Scope = (byte)(spec.Scope ?? RouteScope.Universe),
            Index = spec.InterfaceIndex,
        });
        w.WriteAddress(Ifa.Local, spec.Address);
        w.WriteAddress(Ifa.Address, spec.Address);
        if (spec.Label is { } label && !v6)
        {
            w.WriteString(Ifa.Label, label);
        }
    }

    public static void EncodeDump(ref NetlinkWriter w, (int? Index, AddressFamily? Family) f) =>
        w.WriteStruct(new AddressHeader { Family = Families.ToNative(f.Family), Index = f.Index ?? 0 });

    public static bool TryDecode(ushort type, ReadOnlySpan<byte> payload, out InterfaceAddress address)
    {
        var h = NetlinkMessageReader.ReadHeader<AddressHeader>(payload, "ifaddrmsg");
        IPAddress? local = null, addr = null, brd = null;
        string? label = null;
        uint flags = h.Flags;
        var r = new AttributeReader(payload[8..]);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Ifa.Local: local = Attr.Address(v, "IFA_LOCAL"); break;
                case Ifa.Address: addr = Attr.Address(v, "IFA_ADDRESS"); break;
                case Ifa.Broadcast: brd = Attr.Address(v, "IFA_BROADCAST"); break;
                case Ifa.Label: label = Attr.String(v); break;
                case Ifa.Flags: flags = Attr.U32(v, "IFA_FLAGS"); break;
            }
        }

        var a = local ?? addr;
        if (a is null || (h.Family != Nl.AF_INET && h.Family != Nl.AF_INET6))
        {
            address = null!;
            return false;
        }

        var max = a.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (h.PrefixLength > max)
        {
            throw new NetlinkProtocolException($"ifa_prefixlen {h.PrefixLength} is larger than {max} for {a}");
        }

        address = new InterfaceAddress
        {
            InterfaceIndex = h.Index,
            Address = a,
            PrefixLength = h.PrefixLength,
            Scope = (RouteScope)h.Scope,
            Flags = flags,
            Label = label,
            Peer = local is not null && addr is not null && !addr.Equals(local) ? addr : null,
            Broadcast = brd,
        };
        return true;
    }
}

/// <summary>AddressFamily ↔ AF_* byte.</summary>
internal static class Families
{
    public static byte ToNative(AddressFamily? family) => family switch
    {
        null or AddressFamily.Unspecified => Nl.AF_UNSPEC,
        AddressFamily.InterNetwork => Nl.AF_INET,
        AddressFamily.InterNetworkV6 => Nl.AF_INET6,
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "only InterNetwork and InterNetworkV6 are supported"),
    };

    public static byte Of(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? Nl.AF_INET6 : Nl.AF_INET;

    public static IPNetwork Network(ReadOnlySpan<byte> bytes, int prefix, string what)
    {
        Span<byte> b = stackalloc byte[16];
        bytes.CopyTo(b);
        b = b[..bytes.Length];
        var max = bytes.Length * 8;
        if (prefix > max)
        {
            throw new NetlinkProtocolException($"{what} prefix length {prefix} is larger than {max}");
        }

        for (var i = 0; i < b.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            b[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPNetwork(new IPAddress(b), prefix);
    }
}
