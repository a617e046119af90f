using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Flannel.Internal;

/// <summary>
/// Strict address and prefix text handling with Go's (flannel's) rules: dotted-quad IPv4 only (no inet_aton
/// shorthands, no leading zeros), IPv6 without zone, and Go's canonical IPv6 text form.
/// </summary>
internal static class IPText
{
    public static bool TryParseIPv4(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        Span<byte> bytes = stackalloc byte[4];
        var part = 0;
        var i = 0;
        while (true)
        {
            if (part == 4)
            {
                return false;
            }

            var start = i;
            var value = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                value = (value * 10) + (text[i] - '0');
                i++;
                if (i - start > 3)
                {
                    return false;
                }
            }

            var len = i - start;
            if (len == 0 || value > 255 || (len > 1 && text[start] == '0'))
            {
                return false;
            }

            bytes[part++] = (byte)value;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != '.')
            {
                return false;
            }

            i++;
        }

        if (part != 4)
        {
            return false;
        }

        address = new IPAddress(bytes);
        return true;
    }

    public static bool TryParseIPv6(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.IPv6None;
        if (text.IsEmpty || !text.Contains(':') || text.ContainsAny('%', '[', ']') || text.ContainsAny(' ', '/'))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!(char.IsAsciiHexDigit(c) || c is ':' or '.'))
            {
                return false;
            }
        }

        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6 || parsed.ScopeId != 0)
        {
            return false;
        }

        address = parsed;
        return true;
    }

    /// <summary>Parses either family (Go's net.ParseIP).</summary>
    public static bool TryParseIP(ReadOnlySpan<char> text, out IPAddress address) =>
        text.Contains(':') ? TryParseIPv6(text, out address) : TryParseIPv4(text, out address);

    /// <summary>Parses <c>addr/len</c> (Go's net.ParseCIDR) and normalises to the network address.</summary>
    public static bool TryParseCidr(ReadOnlySpan<char> text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/');
        if (slash <= 0 || !TryParseIP(text[..slash], out var addr))
        {
            return false;
        }

        var lenText = text[(slash + 1)..];
        if (lenText.IsEmpty || lenText.Length > 3)
        {
            return false;
        }

        foreach (var c in lenText)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        var len = int.Parse(lenText, NumberStyles.None, CultureInfo.InvariantCulture);
        if (len > Bits(addr))
        {
            return false;
        }

        network = Normalize(addr, len);
        return true;
    }

    public static int Bits(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;

    public static int Bits(IPNetwork network) => Bits(network.BaseAddress);

    public static bool IsIPv4(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork;

    public static IPNetwork Normalize(IPAddress address, int prefixLength)
    {
        var bits = Bits(address);
        var value = ToUInt128(address) & Mask(prefixLength, bits);
        return new IPNetwork(FromUInt128(value, address.AddressFamily), prefixLength);
    }

    public static UInt128 Mask(int prefixLength, int bits)
    {
        if (prefixLength == 0)
        {
            return UInt128.Zero;
        }

        var all = bits == 32 ? (UInt128)uint.MaxValue : UInt128.MaxValue;
        return (all << (bits - prefixLength)) & all;
    }

    public static UInt128 ToUInt128(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (!address.TryWriteBytes(b, out var written))
        {
            throw new ArgumentException("unsupported address", nameof(address));
        }

        return written == 4 ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    public static IPAddress FromUInt128(UInt128 value, AddressFamily family)
    {
        if (family == AddressFamily.InterNetwork)
        {
            Span<byte> b4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b4, (uint)value);
            return new IPAddress(b4);
        }

        Span<byte> b = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, value);
        return new IPAddress(b);
    }

    /// <summary>Formats an address as Go's net.IP.String does (IPv4-mapped IPv6 prints as dotted quad).</summary>
    public static string Format(IPAddress address)
    {
        if (IsIPv4(address))
        {
            return address.ToString();
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        if (b[..10].IndexOfAnyExcept((byte)0) < 0 && b[10] == 0xff && b[11] == 0xff)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{b[12]}.{b[13]}.{b[14]}.{b[15]}");
        }

        Span<ushort> groups = stackalloc ushort[8];
        for (var i = 0; i < 8; i++)
        {
            groups[i] = BinaryPrimitives.ReadUInt16BigEndian(b[(2 * i)..]);
        }

        // Longest run of two or more zero groups (first one on ties) becomes "::".
        int bestStart = -1, bestLen = 0;
        for (var i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }

            var j = i;
            while (j < 8 && groups[j] == 0)
            {
                j++;
            }

            if (j - i > bestLen && j - i >= 2)
            {
                bestStart = i;
                bestLen = j - i;
            }

            i = j;
        }

        var sb = new StringBuilder(39);
        for (var i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                sb.Append("::");
                i += bestLen - 1;
                continue;
            }

            if (sb.Length > 0 && sb[^1] != ':')
            {
                sb.Append(':');
            }

            sb.Append(groups[i].ToString("x", CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    public static string Format(IPNetwork network) =>
        string.Create(CultureInfo.InvariantCulture, $"{Format(network.BaseAddress)}/{network.PrefixLength}");

    /// <summary>True when the two prefixes share any address.</summary>
    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily && (a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress));

    /// <summary>A lease's subnets for people: "10.5.1.0/24", "fc00:0:0:1::/64" or "10.5.1.0/24 + fc00:0:0:1::/64".</summary>
    public static string DescribeSubnets(IPNetwork? subnet, IPNetwork? ipv6Subnet) => (subnet, ipv6Subnet) switch
    {
        ({ } v4, { } v6) => $"{v4} + {v6}",
        ({ } v4, null) => v4.ToString(),
        (null, { } v6) => v6.ToString(),
        _ => "(no subnet)",
    };

    /// <summary>An expiry for people: ISO 8601 UTC, or "never" for a reservation.</summary>
    public static string DescribeExpiry(DateTimeOffset? expiration) =>
        expiration is { } e ? e.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "never (a reservation)";
}

/// <summary>A lease's subnets as log text, formatted only when the message is written (see <see cref="IPText.DescribeSubnets"/>).</summary>
internal readonly record struct SubnetsText(IPNetwork? Subnet, IPNetwork? IPv6Subnet)
{
    public override string ToString() => IPText.DescribeSubnets(Subnet, IPv6Subnet);
}

/// <summary>An expiry as log text, formatted only when the message is written (see <see cref="IPText.DescribeExpiry"/>).</summary>
internal readonly record struct ExpiryText(DateTimeOffset? Expiration)
{
    public override string ToString() => IPText.DescribeExpiry(Expiration);
}
