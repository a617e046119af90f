using System.Net;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink.Codecs;

/// <summary>Link requests and replies (RTM_*LINK).</summary>
internal static class LinkCodec
{
    public static void EncodeCreate(ref NetlinkWriter w, LinkSpec spec)
    {
        w.WriteStruct(new LinkHeader { Flags = spec.Up ? 1u : 0u, Change = spec.Up ? 1u : 0u });
        w.WriteString(Ifla.IfName, spec.Name);
        if (spec.Mtu is { } mtu)
        {
            w.WriteUInt32(Ifla.Mtu, (uint)mtu);
        }

        if (spec.MacAddress is { } mac)
        {
            w.WriteMac(Ifla.Address, mac);
        }

        var info = w.BeginNested(Ifla.LinkInfo);
        w.WriteString(Ifla.InfoKind, spec.Kind);
        switch (spec)
        {
            case VxlanLinkSpec v:
                {
                    var data = w.BeginNested(Ifla.InfoData);
                    w.WriteUInt32(VxlanAttr.Id, v.Vni);
                    if (v.Local is { } local)
                    {
                        w.WriteAddress(local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? VxlanAttr.Local6 : VxlanAttr.Local, local);
                    }

                    if (v.Device is { } dev)
                    {
                        w.WriteUInt32(VxlanAttr.Link, (uint)dev);
                    }

                    if (v.Port is { } port)
                    {
                        w.WriteUInt16BigEndian(VxlanAttr.Port, port);
                    }

                    if (v.Learning is { } learning)
                    {
                        w.WriteUInt8(VxlanAttr.Learning, learning ? (byte)1 : (byte)0);
                    }

                    if (v.Ttl is { } ttl)
                    {
                        w.WriteUInt8(VxlanAttr.Ttl, ttl);
                    }

                    if (v.Gbp)
                    {
                        w.WriteFlag(VxlanAttr.Gbp);
                    }

                    w.EndNested(data);
                    break;
                }

            case VethLinkSpec veth:
                {
                    var data = w.BeginNested(Ifla.InfoData);
                    var peer = w.BeginRaw(Ifla.VethInfoPeer);
                    w.WriteStruct(default(LinkHeader));
                    w.WriteString(Ifla.IfName, veth.PeerName);
                    if (veth.PeerNamespace is { } ns)
                    {
                        w.WriteUInt32(Ifla.NetNsFd, (uint)ns.FileDescriptor);
                    }

                    w.EndNested(peer);
                    w.EndNested(data);
                    break;
                }
        }

        w.EndNested(info);
    }

    public static void EncodeIndex(ref NetlinkWriter w, int index) => w.WriteStruct(new LinkHeader { Index = index });

    public static void EncodeGetByName(ref NetlinkWriter w, string name)
    {
        w.WriteStruct(default(LinkHeader));
        w.WriteString(Ifla.IfName, name);
    }

    public static void EncodeSet(ref NetlinkWriter w, (int Index, bool? Up, int? Mtu, System.Net.NetworkInformation.PhysicalAddress? Mac, NetworkNamespace? Ns, int? Master) s)
    {
        var h = new LinkHeader { Index = s.Index };
        if (s.Up is { } up)
        {
            h.Flags = up ? 1u : 0u;
            h.Change = 1;
        }

        w.WriteStruct(h);
        if (s.Mtu is { } mtu)
        {
            w.WriteUInt32(Ifla.Mtu, (uint)mtu);
        }

        if (s.Mac is { } mac)
        {
            w.WriteMac(Ifla.Address, mac);
        }

        if (s.Ns is { } ns)
        {
            w.WriteUInt32(Ifla.NetNsFd, (uint)ns.FileDescriptor);
        }

        if (s.Master is { } master)
        {
            w.WriteUInt32(Ifla.Master, (uint)master);
        }
    }

    public static bool TryDecode(ushort type, ReadOnlySpan<byte> payload, out Link link)
    {
        var h = NetlinkMessageReader.ReadHeader<LinkHeader>(payload, "ifinfomsg");
        string? name = null, kind = null;
        int? mtu = null, master = null, parent = null;
        byte? oper = null;
        System.Net.NetworkInformation.PhysicalAddress? mac = null;
        VxlanInfo? vxlan = null;
        List<RawAttribute>? unknown = null;
        ReadOnlySpan<byte> infoData = default;
        var reader = new AttributeReader(payload[16..]);
        while (reader.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Ifla.IfName: name = Attr.String(v); break;
                case Ifla.Mtu: mtu = (int)Attr.U32(v, "IFLA_MTU"); break;
                case Ifla.Address: mac = Attr.Mac(v); break;
                case Ifla.Master: master = (int)Attr.U32(v, "IFLA_MASTER"); break;
                case Ifla.Link: parent = (int)Attr.U32(v, "IFLA_LINK"); break;
                case Ifla.OperState: oper = Attr.U8(v, "IFLA_OPERSTATE"); break;
                case Ifla.LinkInfo:
                    {
                        var info = new AttributeReader(v);
                        while (info.TryRead(out var it, out var iv))
                        {
                            if (it == Ifla.InfoKind)
                            {
                                kind = Attr.String(iv);
                            }
                            else if (it == Ifla.InfoData)
                            {
                                infoData = iv;
                            }
                        }

                        break;
                    }

                default:
                    (unknown ??= []).Add(new RawAttribute(t, v.ToArray()));
                    break;
            }
        }

        if (kind == "vxlan" && !infoData.IsEmpty)
        {
            vxlan = DecodeVxlan(infoData);
        }

        link = new Link
        {
            Index = h.Index,
            Name = name ?? throw new NetlinkProtocolException($"link {h.Index} has no IFLA_IFNAME"),
            Kind = kind,
            Flags = (LinkFlags)h.Flags,
            HardwareType = h.Type,
            Mtu = mtu,
            MacAddress = mac,
            MasterIndex = master,
            ParentIndex = parent,
            OperationalState = oper,
            Vxlan = vxlan,
            UnknownAttributes = (IReadOnlyList<RawAttribute>?)unknown ?? [],
        };
        return true;
    }

    public static VxlanInfo DecodeVxlan(ReadOnlySpan<byte> data)
    {
        uint? vni = null;
        IPAddress? local = null, group = null;
        int? dev = null;
        ushort? port = null;
        bool? learning = null;
        var gbp = false;
        byte? ttl = null;
        List<RawAttribute>? unknown = null;
        var r = new AttributeReader(data);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case VxlanAttr.Id: vni = Attr.U32(v, "IFLA_VXLAN_ID"); break;
                case VxlanAttr.Local: case VxlanAttr.Local6: local = Attr.Address(v, "IFLA_VXLAN_LOCAL"); break;
                case VxlanAttr.Group: case VxlanAttr.Group6: group = Attr.Address(v, "IFLA_VXLAN_GROUP"); break;
                case VxlanAttr.Link: dev = (int)Attr.U32(v, "IFLA_VXLAN_LINK"); break;
                case VxlanAttr.Port: port = Attr.U16BigEndian(v, "IFLA_VXLAN_PORT"); break;
                case VxlanAttr.Learning: learning = Attr.U8(v, "IFLA_VXLAN_LEARNING") != 0; break;
                case VxlanAttr.Ttl: ttl = Attr.U8(v, "IFLA_VXLAN_TTL"); break;
                case VxlanAttr.Gbp: gbp = true; break;
                default: (unknown ??= []).Add(new RawAttribute(t, v.ToArray())); break;
            }
        }

        return new VxlanInfo
        {
            Vni = vni,
            Local = local,
            Group = group,
            Device = dev,
            Port = port,
            Learning = learning,
            Gbp = gbp,
            Ttl = ttl,
            UnknownAttributes = (IReadOnlyList<RawAttribute>?)unknown ?? [],
        };
    }
}
