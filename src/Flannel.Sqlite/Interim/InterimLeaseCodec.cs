// INTERIM: minimal lease-key / lease-value / config codec used by the stores until Flannel.Core's codecs
// (SubnetKey, LeaseAttributes Parse/ToJson, NetworkConfig.Parse) land on main. Replace the calls with Core's
// and delete this file then. Compiled into Flannel.Sqlite and (linked) into Flannel.Etcd.
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Flannel.Stores;

/// <summary>flannel's subnet key (<c>10.5.52.0-24</c>, <c>10.5.52.0-24&amp;fc00:0:0:34::-64</c>).</summary>
internal static class InterimSubnetKey
{
    public static string Format(IPNetwork? subnet, IPNetwork? ipv6Subnet)
    {
        if (subnet is not { } v4)
        {
            throw new ArgumentException("flannel's lease key needs an IPv4 subnet; IPv6-only leases cannot be stored in this schema", nameof(subnet));
        }

        var key = v4.BaseAddress.ToString() + "-" + v4.PrefixLength.ToString(CultureInfo.InvariantCulture);
        if (ipv6Subnet is { } v6)
        {
            key += "&" + v6.BaseAddress.ToString() + "-" + v6.PrefixLength.ToString(CultureInfo.InvariantCulture);
        }

        return key;
    }

    /// <summary>Parses the key suffix; returns false with a reason when it is not a subnet key.</summary>
    public static bool TryParse(string key, out IPNetwork subnet, out IPNetwork? ipv6Subnet, out string? error)
    {
        subnet = default;
        ipv6Subnet = null;
        error = null;
        var parts = key.Split('&');
        if (parts.Length > 2)
        {
            error = "more than one '&'";
            return false;
        }

        if (!TryParseOne(parts[0], AddressFamily.InterNetwork, out subnet, out error))
        {
            return false;
        }

        if (parts.Length == 2)
        {
            if (!TryParseOne(parts[1], AddressFamily.InterNetworkV6, out var v6, out error))
            {
                return false;
            }

            ipv6Subnet = v6;
        }

        return true;
    }

    private static bool TryParseOne(string text, AddressFamily family, out IPNetwork net, out string? error)
    {
        net = default;
        var dash = text.LastIndexOf('-');
        if (dash <= 0 || dash == text.Length - 1)
        {
            error = $"'{text}' is not <address>-<prefix length>";
            return false;
        }

        if (!IPAddress.TryParse(text.AsSpan(0, dash), out var addr) || addr.AddressFamily != family)
        {
            error = $"'{text[..dash]}' is not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address";
            return false;
        }

        var max = family == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var len) || len > max)
        {
            error = $"'{text[(dash + 1)..]}' is not a prefix length 0..{max}";
            return false;
        }

        net = new IPNetwork(addr, len);
        return TryNormalise(ref net, out error);
    }

    private static bool TryNormalise(ref IPNetwork net, out string? error)
    {
        error = null;
        try
        {
            net = IPNetwork.Parse(net.BaseAddress + "/" + net.PrefixLength.ToString(CultureInfo.InvariantCulture));
            return true;
        }
        catch (FormatException)
        {
            error = $"{net.BaseAddress}/{net.PrefixLength} has host bits set";
            return false;
        }
    }
}

/// <summary>The lease value: Go flanneld's LeaseAttrs JSON, field order PublicIP, PublicIPv6, BackendType, BackendData, BackendV6Data.</summary>
internal static class InterimLeaseJson
{
    public static byte[] ToJson(LeaseAttributes attrs)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("PublicIP", (attrs.PublicIP ?? IPAddress.Any).ToString());
            if (attrs.PublicIPv6 is { } v6)
            {
                w.WriteString("PublicIPv6", v6.ToString());
            }
            else
            {
                w.WriteNull("PublicIPv6");
            }

            if (!string.IsNullOrEmpty(attrs.BackendType))
            {
                w.WriteString("BackendType", attrs.BackendType);
            }

            if (attrs.BackendData is { } bd && bd.ValueKind != JsonValueKind.Undefined)
            {
                w.WritePropertyName("BackendData");
                bd.WriteTo(w);
            }

            if (attrs.BackendV6Data is { } bd6 && bd6.ValueKind != JsonValueKind.Undefined)
            {
                w.WritePropertyName("BackendV6Data");
                bd6.WriteTo(w);
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string ToJsonString(LeaseAttributes attrs) => Encoding.UTF8.GetString(ToJson(attrs));

    /// <summary>Parses a lease value; throws <see cref="FormatException"/> naming the field on bad input.</summary>
    public static LeaseAttributes Parse(ReadOnlySpan<byte> utf8)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8.ToArray());
        }
        catch (JsonException ex)
        {
            throw new FormatException($"lease value is not valid JSON: {ex.Message}", ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"lease value must be a JSON object, not {doc.RootElement.ValueKind}");
            }

            IPAddress? publicIp = null, publicIpv6 = null;
            string? backendType = null;
            JsonElement? data = null, data6 = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.NameEquals("PublicIP") || string.Equals(p.Name, "PublicIP", StringComparison.OrdinalIgnoreCase))
                {
                    publicIp = ParseIp(p.Value, "PublicIP", AddressFamily.InterNetwork);
                }
                else if (string.Equals(p.Name, "PublicIPv6", StringComparison.OrdinalIgnoreCase))
                {
                    publicIpv6 = ParseIp(p.Value, "PublicIPv6", AddressFamily.InterNetworkV6);
                }
                else if (string.Equals(p.Name, "BackendType", StringComparison.OrdinalIgnoreCase))
                {
                    backendType = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Null => null,
                        _ => throw new FormatException($"BackendType: must be a string, not {p.Value.ValueKind}"),
                    };
                }
                else if (string.Equals(p.Name, "BackendData", StringComparison.OrdinalIgnoreCase))
                {
                    data = p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.Clone();
                }
                else if (string.Equals(p.Name, "BackendV6Data", StringComparison.OrdinalIgnoreCase))
                {
                    data6 = p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.Clone();
                }
            }

            return new LeaseAttributes
            {
                PublicIP = publicIp,
                PublicIPv6 = publicIpv6,
                BackendType = backendType,
                BackendData = data,
                BackendV6Data = data6,
            };
        }
    }

    private static IPAddress? ParseIp(JsonElement e, string field, AddressFamily family)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (e.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"{field}: must be an IP address string, not {e.ValueKind}");
        }

        var s = e.GetString()!;
        if (!IPAddress.TryParse(s, out var ip) || ip.AddressFamily != family)
        {
            throw new FormatException($"{field}: invalid value \"{s}\": not an {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address");
        }

        return ip;
    }
}

/// <summary>Minimal net-conf.json reader (case-insensitive fields, CIDRs normalised).</summary>
internal static class InterimNetworkConfig
{
    public static NetworkConfig Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new FlannelConfigurationException($"network configuration is not valid JSON: {ex.Message}", ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FlannelConfigurationException("network configuration must be a JSON object");
            }

            var c = new NetworkConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                switch (p.Name.ToUpperInvariant())
                {
                    case "NETWORK": c = c with { Network = Cidr(v, "Network") }; break;
                    case "IPV6NETWORK": c = c with { IPv6Network = Cidr(v, "IPv6Network") }; break;
                    case "ENABLEIPV4": c = c with { EnableIPv4 = Bool(v, "EnableIPv4") }; break;
                    case "ENABLEIPV6": c = c with { EnableIPv6 = Bool(v, "EnableIPv6") }; break;
                    case "ENABLENFTABLES": c = c with { EnableNFTables = Bool(v, "EnableNFTables") }; break;
                    case "SUBNETLEN": c = c with { SubnetLen = Int(v, "SubnetLen") }; break;
                    case "IPV6SUBNETLEN": c = c with { IPv6SubnetLen = Int(v, "IPv6SubnetLen") }; break;
                    case "SUBNETMIN": c = c with { SubnetMin = Ip(v, "SubnetMin") }; break;
                    case "SUBNETMAX": c = c with { SubnetMax = Ip(v, "SubnetMax") }; break;
                    case "IPV6SUBNETMIN": c = c with { IPv6SubnetMin = Ip(v, "IPv6SubnetMin") }; break;
                    case "IPV6SUBNETMAX": c = c with { IPv6SubnetMax = Ip(v, "IPv6SubnetMax") }; break;
                    case "BACKEND":
                        if (v.ValueKind == JsonValueKind.Object)
                        {
                            var type = "udp";
                            foreach (var bp in v.EnumerateObject())
                            {
                                if (string.Equals(bp.Name, "Type", StringComparison.OrdinalIgnoreCase) && bp.Value.ValueKind == JsonValueKind.String)
                                {
                                    type = bp.Value.GetString()!;
                                }
                            }

                            c = c with { Backend = v.Clone(), BackendType = new BackendType(type) };
                        }

                        break;
                }
            }

            return c;
        }
    }

    private static IPNetwork Cidr(JsonElement v, string field)
    {
        var s = v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FlannelConfigurationException(field, v.ToString(), "must be a CIDR string");
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(s.AsSpan(0, slash), out var ip) || !int.TryParse(s.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var len))
        {
            throw new FlannelConfigurationException(field, s, "must be a CIDR such as 10.244.0.0/16");
        }

        var bytes = ip.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(len - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPNetwork(new IPAddress(bytes), len);
    }

    private static IPAddress Ip(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.String && IPAddress.TryParse(v.GetString(), out var ip) ? ip : throw new FlannelConfigurationException(field, v.ToString(), "must be an IP address string");

    private static bool Bool(JsonElement v, string field) =>
        v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw new FlannelConfigurationException(field, v.ToString(), "must be true or false");

    private static int Int(JsonElement v, string field) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw new FlannelConfigurationException(field, v.ToString(), "must be an integer");
}
