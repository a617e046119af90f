using System.Text.Json;

namespace Flannel.Udp;

/// <summary>The udp backend's part of net-conf.json <c>Backend</c>: <c>{"Type": "udp", "Port": 8285}</c>.</summary>
internal sealed record UdpNetConf(int Port)
{
    public const int DefaultPort = 8285;

    /// <summary>Reads the options; names are case-insensitive as in flannel (Go's encoding/json).</summary>
    /// <exception cref="FlannelConfigurationException">An option is unknown or has the wrong type or range.</exception>
    public static UdpNetConf Parse(JsonElement? backend)
    {
        int port = DefaultPort;
        if (backend is not { } b || b.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return new UdpNetConf(port);
        }

        if (b.ValueKind != JsonValueKind.Object)
        {
            throw new FlannelConfigurationException("Backend", b.GetRawText(), "must be a JSON object");
        }

        foreach (var p in b.EnumerateObject())
        {
            if (p.Name.Equals("Type", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (p.Name.Equals("Port", StringComparison.OrdinalIgnoreCase))
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out port) || port is < 1 or > 65535)
                {
                    throw new FlannelConfigurationException("Backend.Port", Text(p.Value), p.Value.ValueKind == JsonValueKind.String ? "must be an integer UDP port between 1 and 65535, not a string" : "must be an integer UDP port between 1 and 65535");
                }

                continue;
            }

            throw new FlannelConfigurationException($"Backend.{p.Name}", Text(p.Value), "is not an option of the udp backend (it knows Type and Port)");
        }

        return new UdpNetConf(port);
    }

    /// <summary>A value as the error shows it between quotes: a string's content, other values as JSON.</summary>
    private static string Text(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() ?? string.Empty : v.GetRawText();
}
