#pragma warning disable CA1507 // the literals are JSON field names as users write them
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Flannel.Internal;

namespace Flannel;

public sealed partial record NetworkConfig
{
    /// <summary>
    /// True when the configuration had no <c>Backend</c> object and <see cref="BackendType"/> is Flannel.Net's
    /// default, <c>vxlan</c>. Go flanneld uses <c>udp</c> in that case (its documentation says vxlan); hosts
    /// should log a warning and users should set <c>"Backend": {"Type": "vxlan"}</c> explicitly.
    /// </summary>
    public bool BackendDefaulted { get; init; }

    /// <summary>
    /// Reads net-conf.json (or the etcd <c>config</c> value) with flannel's rules: field names match
    /// case-insensitively, unknown fields are ignored, <c>null</c> leaves a field at its default, CIDRs are
    /// normalised to their network address, <c>EnableIPv4</c> defaults to true, and <c>Backend</c> is kept as raw
    /// JSON with its <c>Type</c> read case-insensitively (absent <c>Backend</c>: vxlan, see <see cref="BackendDefaulted"/>).
    /// The result is not yet validated; call <see cref="Validate"/> for the derived values.
    /// </summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="FlannelConfigurationException">The text is not valid JSON, not an object, or a field has the wrong type or format.</exception>
    public static NetworkConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Reads net-conf.json from UTF-8 bytes; see <see cref="Parse(string)"/>.</summary>
    /// <param name="utf8Json">The JSON bytes.</param>
    /// <returns>The configuration.</returns>
    /// <exception cref="FlannelConfigurationException">The bytes are not a valid configuration.</exception>
    public static NetworkConfig Parse(ReadOnlySpan<byte> utf8Json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8Json.ToArray());
        }
        catch (JsonException ex)
        {
            throw new FlannelConfigurationException(
                GoJson.IsBlank(utf8Json)
                    ? "network configuration is empty: write a JSON object like {\"Network\": \"10.244.0.0/16\", \"Backend\": {\"Type\": \"vxlan\"}}"
                    : $"network configuration is not valid JSON {GoJson.DescribeSyntaxError(ex)}",
                ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FlannelConfigurationException(
                    $"network configuration must be a JSON object like {{\"Network\": \"10.244.0.0/16\", \"Backend\": {{\"Type\": \"vxlan\"}}}}, not {GoJson.Describe(root)}");
            }

            var config = new NetworkConfig { BackendDefaulted = true };
            foreach (var p in root.EnumerateObject())
            {
                var v = p.Value;
                if (v.ValueKind == JsonValueKind.Null)
                {
                    continue; // Go leaves the field unchanged.
                }

                config = p.Name.ToUpperInvariant() switch
                {
                    "NETWORK" => config with { Network = ReadCidr(v, "Network", AddressFamily.InterNetwork) },
                    "IPV6NETWORK" => config with { IPv6Network = ReadCidr(v, "IPv6Network", AddressFamily.InterNetworkV6) },
                    "ENABLEIPV4" => config with { EnableIPv4 = ReadBool(v, "EnableIPv4") },
                    "ENABLEIPV6" => config with { EnableIPv6 = ReadBool(v, "EnableIPv6") },
                    "ENABLENFTABLES" => config with { EnableNFTables = ReadBool(v, "EnableNFTables") },
                    "SUBNETLEN" => config with { SubnetLen = ReadInt(v, "SubnetLen") },
                    "IPV6SUBNETLEN" => config with { IPv6SubnetLen = ReadInt(v, "IPv6SubnetLen") },
                    "SUBNETMIN" => config with { SubnetMin = ReadAddress(v, "SubnetMin", AddressFamily.InterNetwork) },
                    "SUBNETMAX" => config with { SubnetMax = ReadAddress(v, "SubnetMax", AddressFamily.InterNetwork) },
                    "IPV6SUBNETMIN" => config with { IPv6SubnetMin = ReadAddress(v, "IPv6SubnetMin", AddressFamily.InterNetworkV6) },
                    "IPV6SUBNETMAX" => config with { IPv6SubnetMax = ReadAddress(v, "IPv6SubnetMax", AddressFamily.InterNetworkV6) },
                    "BACKEND" => config with { Backend = v.Clone(), BackendType = ReadBackendType(v), BackendDefaulted = false },
                    _ => config,
                };
            }

            return config;
        }
    }

    /// <summary>
    /// Applies flannel's validation and derivation (pkg/subnet/config.go <c>CheckNetworkConfig</c>) and returns a
    /// copy with <see cref="SubnetLen"/>, <see cref="SubnetMin"/>, <see cref="SubnetMax"/> and their IPv6
    /// counterparts filled in. Also rejects what flannel misses: an inverted range, a network of the wrong family,
    /// no address family enabled, and an empty backend type. Validating a validated configuration returns an equal one.
    /// </summary>
    /// <returns>The validated configuration.</returns>
    /// <exception cref="FlannelConfigurationException">A rule is broken; the exception names the field, the value and the rule.</exception>
    public NetworkConfig Validate()
    {
        if (!EnableIPv4 && !EnableIPv6)
        {
            throw new FlannelConfigurationException("EnableIPv4", "false", "at least one of EnableIPv4 and EnableIPv6 must be true");
        }

        if (BackendType.IsEmpty)
        {
            throw new FlannelConfigurationException("Backend.Type", string.Empty, "must name a backend, for example \"vxlan\"");
        }

        var result = this;
        if (EnableIPv4)
        {
            var (len, min, max) = ValidateFamily(Network, SubnetLen, SubnetMin, SubnetMax, AddressFamily.InterNetwork);
            result = result with { SubnetLen = len, SubnetMin = min, SubnetMax = max };
        }

        if (EnableIPv6)
        {
            var (len, min, max) = ValidateFamily(IPv6Network, IPv6SubnetLen, IPv6SubnetMin, IPv6SubnetMax, AddressFamily.InterNetworkV6);
            result = result with { IPv6SubnetLen = len, IPv6SubnetMin = min, IPv6SubnetMax = max };
        }

        return result;
    }

    /// <summary>
    /// Writes the configuration as net-conf.json (indented). Fields at their default are left out, except the
    /// backend, which is always written with an explicit <c>Type</c> so that Go flanneld (whose default is udp)
    /// reads the same backend.
    /// </summary>
    /// <returns>The JSON text.</returns>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (Network is { } n)
            {
                w.WriteString("Network", IPText.Format(n));
            }

            if (IPv6Network is { } n6)
            {
                w.WriteString("IPv6Network", IPText.Format(n6));
            }

            if (SubnetLen != 0)
            {
                w.WriteNumber("SubnetLen", SubnetLen);
            }

            WriteAddress(w, "SubnetMin", SubnetMin);
            WriteAddress(w, "SubnetMax", SubnetMax);
            if (IPv6SubnetLen != 0)
            {
                w.WriteNumber("IPv6SubnetLen", IPv6SubnetLen);
            }

            WriteAddress(w, "IPv6SubnetMin", IPv6SubnetMin);
            WriteAddress(w, "IPv6SubnetMax", IPv6SubnetMax);
            if (!EnableIPv4)
            {
                w.WriteBoolean("EnableIPv4", false);
            }

            if (EnableIPv6)
            {
                w.WriteBoolean("EnableIPv6", true);
            }

            if (EnableNFTables)
            {
                w.WriteBoolean("EnableNFTables", true);
            }

            w.WriteStartObject("Backend");
            w.WriteString("Type", BackendType.Value);
            if (Backend is { ValueKind: JsonValueKind.Object } backend)
            {
                foreach (var p in backend.EnumerateObject())
                {
                    if (!string.Equals(p.Name, "Type", StringComparison.OrdinalIgnoreCase))
                    {
                        p.WriteTo(w);
                    }
                }
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Compares every field; the raw <see cref="Backend"/> JSON is compared by value.</summary>
    /// <param name="other">The other configuration.</param>
    /// <returns>True when both describe the same network.</returns>
    public bool Equals(NetworkConfig? other) =>
        other is not null
        && EnableIPv4 == other.EnableIPv4
        && EnableIPv6 == other.EnableIPv6
        && Equals(Network, other.Network)
        && Equals(IPv6Network, other.IPv6Network)
        && SubnetLen == other.SubnetLen
        && Equals(SubnetMin, other.SubnetMin)
        && Equals(SubnetMax, other.SubnetMax)
        && IPv6SubnetLen == other.IPv6SubnetLen
        && Equals(IPv6SubnetMin, other.IPv6SubnetMin)
        && Equals(IPv6SubnetMax, other.IPv6SubnetMax)
        && EnableNFTables == other.EnableNFTables
        && BackendType == other.BackendType
        && BackendDefaulted == other.BackendDefaulted
        && (Backend is null ? other.Backend is null : other.Backend is not null && JsonElement.DeepEquals(Backend.Value, other.Backend.Value));

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(EnableIPv4);
        h.Add(EnableIPv6);
        h.Add(Network);
        h.Add(IPv6Network);
        h.Add(SubnetLen);
        h.Add(SubnetMin);
        h.Add(SubnetMax);
        h.Add(IPv6SubnetLen);
        h.Add(IPv6SubnetMin);
        h.Add(IPv6SubnetMax);
        h.Add(EnableNFTables);
        h.Add(BackendType);
        h.Add(BackendDefaulted);
        return h.ToHashCode();
    }

    private static (int Len, IPAddress Min, IPAddress Max) ValidateFamily(
        IPNetwork? network, int subnetLen, IPAddress? min, IPAddress? max, AddressFamily family)
    {
        var v4 = family == AddressFamily.InterNetwork;
        var netField = v4 ? "Network" : "IPv6Network";
        var lenField = v4 ? "SubnetLen" : "IPv6SubnetLen";
        var minField = v4 ? "SubnetMin" : "IPv6SubnetMin";
        var maxField = v4 ? "SubnetMax" : "IPv6SubnetMax";
        var bits = v4 ? 32 : 128;
        var familyName = v4 ? "IPv4" : "IPv6";

        if (network is not { } net || net.PrefixLength == 0)
        {
            throw new FlannelConfigurationException(netField, network is { } n0 ? IPText.Format(n0) : null, $"please define a correct {netField} parameter");
        }

        if (net.BaseAddress.AddressFamily != family)
        {
            throw new FlannelConfigurationException(netField, IPText.Format(net), $"must be an {familyName} network");
        }

        var netText = IPText.Format(net);
        var maxLen = bits - 2;
        if (subnetLen < 0)
        {
            throw new FlannelConfigurationException(lenField, Str(subnetLen), $"must be between {net.PrefixLength + 2} and {maxLen} (or absent to derive it)");
        }

        if (subnetLen > 0)
        {
            if (subnetLen > maxLen)
            {
                throw new FlannelConfigurationException(lenField, Str(subnetLen), $"{lenField} must be less than /{maxLen + 1}");
            }

            if (subnetLen < net.PrefixLength + 2)
            {
                throw new FlannelConfigurationException(lenField, Str(subnetLen), $"{netField} {netText} must be able to accommodate at least four subnets (use /{net.PrefixLength + 2} or longer)");
            }
        }
        else
        {
            var minimum = bits - 4;
            if (net.PrefixLength > minimum)
            {
                throw new FlannelConfigurationException(netField, netText, $"{netField} is too small. Minimum useful network prefix is /{minimum}");
            }

            var threshold = v4 ? 22 : 62;
            subnetLen = net.PrefixLength <= threshold ? (v4 ? 24 : 64) : net.PrefixLength + 2;
        }

        var size = UInt128.One << (bits - subnetLen);
        var netStart = IPText.ToUInt128(net.BaseAddress);
        var netNext = netStart + (UInt128.One << (bits - net.PrefixLength));
        var mask = IPText.Mask(subnetLen, bits);

        var minValue = CheckBound(min, minField, netStart + size);
        var maxValue = CheckBound(max, maxField, netNext - size);
        if (minValue > maxValue)
        {
            throw new FlannelConfigurationException(minField, Fmt(minValue), $"must not be greater than {maxField} ({Fmt(maxValue)})");
        }

        return (subnetLen, IPText.FromUInt128(minValue, family), IPText.FromUInt128(maxValue, family));

        UInt128 CheckBound(IPAddress? value, string field, UInt128 fallback)
        {
            if (value is null || value.Equals(IPAddress.Any) || value.Equals(IPAddress.IPv6Any))
            {
                return fallback; // Go's zero address means "derive", in code as in JSON
            }

            if (value.AddressFamily != family)
            {
                throw new FlannelConfigurationException(field, IPText.Format(value), $"must be an {familyName} address");
            }

            if (!net.Contains(value))
            {
                throw new FlannelConfigurationException(field, IPText.Format(value), $"{field} is not in the range of the {netField} ({netText})");
            }

            var x = IPText.ToUInt128(value);
            if ((x & mask) != x)
            {
                throw new FlannelConfigurationException(field, IPText.Format(value), $"{field} is not on a {lenField} boundary: {IPText.Format(value)} (the {lenField} is /{subnetLen})");
            }

            return x;
        }

        string Fmt(UInt128 x) => IPText.Format(IPText.FromUInt128(x, family));
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void WriteAddress(Utf8JsonWriter w, string name, IPAddress? value)
    {
        if (value is not null)
        {
            w.WriteString(name, IPText.Format(value));
        }
    }

    private static IPNetwork ReadCidr(JsonElement v, string field, AddressFamily family)
    {
        var familyName = family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
        var example = family == AddressFamily.InterNetwork ? "10.244.0.0/16" : "fc00::/48";
        if (v.ValueKind != JsonValueKind.String)
        {
            throw new FlannelConfigurationException(field, GoJson.Excerpt(v), $"must be a string holding an {familyName} CIDR such as \"{example}\", not {GoJson.Describe(v)}");
        }

        var text = v.GetString()!;
        if (!IPText.TryParseCidr(text, out var net))
        {
            throw new FlannelConfigurationException(field, text, $"must be an {familyName} CIDR such as \"{example}\"");
        }

        if (net.BaseAddress.AddressFamily != family || (family == AddressFamily.InterNetworkV6 && net.BaseAddress.IsIPv4MappedToIPv6))
        {
            var hint = family == AddressFamily.InterNetwork ? " (put IPv6 ranges in IPv6Network)" : " (put IPv4 ranges in Network)";
            throw new FlannelConfigurationException(field, text, $"must be an {familyName} network{hint}");
        }

        return net;
    }

    private static IPAddress? ReadAddress(JsonElement v, string field, AddressFamily family)
    {
        var familyName = family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
        if (v.ValueKind != JsonValueKind.String)
        {
            throw new FlannelConfigurationException(field, GoJson.Excerpt(v), $"must be a string holding an {familyName} address, not {GoJson.Describe(v)}");
        }

        var text = v.GetString()!;
        var ok = family == AddressFamily.InterNetwork ? IPText.TryParseIPv4(text, out var addr) : IPText.TryParseIPv6(text, out addr);
        if (!ok)
        {
            var extra = text.Contains('/', StringComparison.Ordinal) ? " (a plain address, not a CIDR)" : string.Empty;
            throw new FlannelConfigurationException(field, text, $"must be an {familyName} address{extra}");
        }

        // Go's zero address means "unset".
        return addr.Equals(IPAddress.Any) || addr.Equals(IPAddress.IPv6Any) ? null : addr;
    }

    private static bool ReadBool(JsonElement v, string field) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FlannelConfigurationException(field, GoJson.Excerpt(v), $"must be true or false, not {GoJson.Describe(v)}"),
    };

    private static int ReadInt(JsonElement v, string field)
    {
        if (v.ValueKind != JsonValueKind.Number)
        {
            throw new FlannelConfigurationException(field, GoJson.Excerpt(v), $"must be an integer prefix length, not {GoJson.Describe(v)}");
        }

        var raw = v.GetRawText();
        if (raw.AsSpan().IndexOfAny(".eE") >= 0 || !v.TryGetInt32(out var value))
        {
            throw new FlannelConfigurationException(field, raw, "must be an integer prefix length");
        }

        return value;
    }

    private static BackendType ReadBackendType(JsonElement backend)
    {
        if (backend.ValueKind != JsonValueKind.Object)
        {
            throw new FlannelConfigurationException("Backend", GoJson.Excerpt(backend), $"must be a JSON object such as {{\"Type\": \"vxlan\"}}, not {GoJson.Describe(backend)}");
        }

        if (!GoJson.TryGetProperty(backend, "Type", out var type) || type.ValueKind == JsonValueKind.Null)
        {
            throw new FlannelConfigurationException("Backend.Type", null, "is missing: the Backend object must name its type, for example {\"Type\": \"vxlan\"}");
        }

        if (type.ValueKind != JsonValueKind.String)
        {
            throw new FlannelConfigurationException("Backend.Type", GoJson.Excerpt(type), $"must be a string such as \"vxlan\", not {GoJson.Describe(type)}");
        }

        var text = type.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FlannelConfigurationException("Backend.Type", text, "must name a backend, for example \"vxlan\"");
        }

        return new BackendType(text);
    }
}
