using System.Buffers;
using System.Globalization;
using System.Net.NetworkInformation;
using System.Text.Json;

namespace Flannel.Vxlan;

/// <summary>The vxlan lease data <c>{"VNI":1,"VtepMAC":"0a:1b:2c:3d:4e:5f"}</c> (flannel's wire form, lower-case colon MAC).</summary>
internal static class VtepData
{
    public static JsonElement Create(uint vni, PhysicalAddress mac)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("VNI", vni);
            w.WriteString("VtepMAC", FormatMac(mac));
            w.WriteEndObject();
        }

        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    /// <summary>Reads the VtepMAC; returns null with a reason when the data is missing or malformed.</summary>
    public static PhysicalAddress? TryReadMac(JsonElement? data, out string? problem)
    {
        problem = null;
        if (data is not { ValueKind: JsonValueKind.Object } obj)
        {
            problem = data is null ? "no backend data" : $"backend data is not an object: {data.Value.GetRawText()}";
            return null;
        }

        // Go's decoder: the key matches case-insensitively and the last one wins.
        if (!GoJsonFields.TryGetValue(obj, "VtepMAC"u8, out var value))
        {
            problem = "backend data has no VtepMAC";
            return null;
        }

        if (value.ValueKind == JsonValueKind.String && TryParseMac(value.GetString(), out var mac))
        {
            return mac;
        }

        problem = $"VtepMAC {value.GetRawText()} is not a MAC address";
        return null;
    }

    /// <summary>
    /// Reads a 6-byte MAC as Go's net.ParseMAC (which flannel uses for VtepMAC) accepts it: <c>0a:1b:2c:3d:4e:5f</c>,
    /// <c>0a-1b-2c-3d-4e-5f</c> or <c>0a1b.2c3d.4e5f</c>, in either case. flanneld writes the first form; the others come
    /// from hand-written leases and tools, and Go nodes program them.
    /// </summary>
    public static bool TryParseMac(string? text, out PhysicalAddress mac)
    {
        mac = PhysicalAddress.None;
        var bytes = new byte[6];
        if (text is { Length: 17 } && text[2] is ':' or '-')
        {
            for (var i = 0; i < 6; i++)
            {
                if ((i > 0 && text[(i * 3) - 1] != text[2]) || !TryHex(text.AsSpan(i * 3, 2), bytes.AsSpan(i, 1)))
                {
                    return false;
                }
            }
        }
        else if (text is { Length: 14 } && text[4] == '.' && text[9] == '.')
        {
            for (var g = 0; g < 3; g++)
            {
                if (!TryHex(text.AsSpan(g * 5, 4), bytes.AsSpan(g * 2, 2)))
                {
                    return false;
                }
            }
        }
        else
        {
            return false;
        }

        mac = new PhysicalAddress(bytes);
        return true;
    }

    private static bool TryHex(ReadOnlySpan<char> digits, Span<byte> into)
    {
        for (var i = 0; i < into.Length; i++)
        {
            if (!byte.TryParse(digits.Slice(i * 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out into[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static string FormatMac(PhysicalAddress mac) =>
        string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>A random unicast, locally administered MAC (as flannel makes its VTEP MACs).</summary>
    /// <remarks>
    /// Not a secret, so no cryptographic generator: RandomNumberGenerator would load libcrypto (~3.4 MB of RSS in
    /// the daemon) for six bytes.
    /// </remarks>
    public static PhysicalAddress NewMac()
    {
        var b = new byte[6];
        Random.Shared.NextBytes(b);
        b[0] = (byte)((b[0] & 0xfe) | 0x02);
        return new PhysicalAddress(b);
    }
}
