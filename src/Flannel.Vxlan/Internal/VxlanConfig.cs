using System.Globalization;
using System.Text.Json;

namespace Flannel.Vxlan;

/// <summary>
/// The vxlan options of net-conf.json's <c>Backend</c> object (names case-insensitive, as flannel):
/// <c>VNI</c>, <c>Port</c>, <c>GBP</c>, <c>DirectRouting</c>, <c>Learning</c>, <c>MTU</c>.
/// </summary>
internal sealed record VxlanConfig
{
    /// <summary>The largest VXLAN network identifier (24 bits).</summary>
    public const uint MaxVni = 0xFFFFFF;

    /// <summary>The VXLAN network identifier (default 1).</summary>
    public uint Vni { get; init; } = 1;

    /// <summary>The UDP destination port; null for the kernel default (8472 on Linux).</summary>
    public ushort? Port { get; init; }

    /// <summary>VXLAN Group Based Policy extension.</summary>
    public bool Gbp { get; init; }

    /// <summary>Route directly (host-gw style) to peers on the same L2 segment.</summary>
    public bool DirectRouting { get; init; }

    /// <summary>Kernel FDB learning on the device.</summary>
    public bool Learning { get; init; }

    /// <summary>The underlay packet size to fit in; null for the external interface's MTU.</summary>
    public int? Mtu { get; init; }

    /// <summary>Windows-only options present in the object (accepted so one net-conf serves both, ignored here).</summary>
    public IReadOnlyList<string> IgnoredOptions { get; init; } = [];

    /// <summary>Parses the <c>Backend</c> object; a missing object gives the defaults.</summary>
    /// <exception cref="FlannelConfigurationException">An option is unknown, ill-typed or out of range.</exception>
    public static VxlanConfig Parse(JsonElement? backend)
    {
        var config = new VxlanConfig();
        if (backend is not { } obj || obj.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return config;
        }

        if (obj.ValueKind != JsonValueKind.Object)
        {
            throw new FlannelConfigurationException("Backend", obj.GetRawText(), "must be a JSON object");
        }

        var ignored = new List<string>();
        foreach (var p in obj.EnumerateObject())
        {
            switch (p.Name.ToUpperInvariant())
            {
                case "TYPE":
                    break;
                case "VNI":
                    config = config with { Vni = (uint)Integer(p, 0, MaxVni) };
                    break;
                case "PORT":
                    var port = (ushort)Integer(p, 0, ushort.MaxValue);
                    config = config with { Port = port == 0 ? null : port };
                    break;
                case "GBP":
                    config = config with { Gbp = Boolean(p) };
                    break;
                case "DIRECTROUTING":
                    config = config with { DirectRouting = Boolean(p) };
                    break;
                case "LEARNING":
                    config = config with { Learning = Boolean(p) };
                    break;
                case "MTU":
                    var mtu = (int)Integer(p, 0, 65535);
                    config = config with { Mtu = mtu == 0 ? null : mtu };
                    break;
                case "MACPREFIX":
                case "NAME":
                    if (p.Value.ValueKind != JsonValueKind.String)
                    {
                        throw new FlannelConfigurationException("Backend." + p.Name, Text(p.Value), $"must be a string (a Windows-only vxlan option), not {Kind(p.Value)}");
                    }

                    ignored.Add(p.Name);
                    break;
                default:
                    throw new FlannelConfigurationException(
                        "Backend." + p.Name,
                        Text(p.Value),
                        "unknown vxlan option; the vxlan backend knows Type, VNI, Port, GBP, DirectRouting, Learning and MTU (and the Windows-only MacPrefix and Name)");
            }
        }

        return config with { IgnoredOptions = ignored };
    }

    private static long Integer(JsonProperty p, long min, long max)
    {
        if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt64(out var v))
        {
            throw new FlannelConfigurationException("Backend." + p.Name, Text(p.Value), $"must be an integer between {min} and {max}, not {Kind(p.Value)}");
        }

        if (v < min || v > max)
        {
            throw new FlannelConfigurationException("Backend." + p.Name, v.ToString(CultureInfo.InvariantCulture), $"must be between {min} and {max}");
        }

        return v;
    }

    private static bool Boolean(JsonProperty p) => p.Value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new FlannelConfigurationException("Backend." + p.Name, Text(p.Value), $"must be true or false, not {Kind(p.Value)}"),
    };

    /// <summary>A value as the error shows it between quotes: a string's content, other values as JSON.</summary>
    private static string Text(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() ?? string.Empty : v.GetRawText();

    private static string Kind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number with a fraction or exponent",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        _ => "another JSON value",
    };
}
