using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Flannel.Internal;

namespace Flannel;

/// <summary>
/// The subnet part of a lease key, exactly as flannel writes it under <c>&lt;prefix&gt;/subnets/</c>:
/// <c>10.5.52.0-24</c>, or for dual stack <c>10.5.52.0-24&amp;fc00:0:0:34::-64</c>.
/// </summary>
/// <remarks>
/// The IPv4 part is mandatory (flannel's key grammar has no IPv6-only form). The IPv6 part is Go's canonical
/// text (compressed, lower case). Parsing is strict so that <c>Format(Parse(text)) == text</c>: keys with host
/// bits set, leading zeros or non-canonical IPv6 text are rejected (flannel's stores skip such keys too).
/// </remarks>
/// <param name="Subnet">The IPv4 subnet.</param>
/// <param name="IPv6Subnet">The IPv6 subnet, for a dual-stack lease.</param>
public readonly record struct SubnetKey(IPNetwork Subnet, IPNetwork? IPv6Subnet = null)
{
    /// <summary>Creates the key of a lease.</summary>
    /// <param name="lease">The lease; it must carry an IPv4 subnet.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ArgumentException">The lease has no IPv4 subnet.</exception>
    public static SubnetKey FromLease(Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return lease.Subnet is { } s
            ? new SubnetKey(s, lease.IPv6Subnet)
            : throw new ArgumentException("a lease key needs an IPv4 subnet (flannel's key format has no IPv6-only form)", nameof(lease));
    }

    /// <summary>Formats subnets as a key.</summary>
    /// <param name="subnet">The IPv4 subnet.</param>
    /// <param name="ipv6Subnet">The IPv6 subnet, if any.</param>
    /// <returns>The key text, for example <c>10.5.52.0-24</c>.</returns>
    /// <exception cref="ArgumentException">A subnet has the wrong address family or host bits set.</exception>
    public static string Format(IPNetwork subnet, IPNetwork? ipv6Subnet = null)
    {
        if (subnet.BaseAddress?.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"the first part of a subnet key must be IPv4, not {subnet}", nameof(subnet));
        }

        var text = string.Create(CultureInfo.InvariantCulture, $"{subnet.BaseAddress}-{subnet.PrefixLength}");
        if (ipv6Subnet is { } v6)
        {
            if (v6.BaseAddress?.AddressFamily != AddressFamily.InterNetworkV6)
            {
                throw new ArgumentException($"the second part of a subnet key must be IPv6, not {v6}", nameof(ipv6Subnet));
            }

            text += string.Create(CultureInfo.InvariantCulture, $"&{IPText.Format(v6.BaseAddress)}-{v6.PrefixLength}");
        }

        return text;
    }

    /// <summary>The key text.</summary>
    /// <returns>For example <c>10.5.52.0-24</c>.</returns>
    public override string ToString() => Format(Subnet, IPv6Subnet);

    /// <summary>Parses a key, or a full store key ending in one (the part after the last <c>/</c> is used).</summary>
    /// <param name="key">For example <c>10.5.52.0-24</c> or <c>/coreos.com/network/subnets/10.5.52.0-24</c>.</param>
    /// <returns>The key.</returns>
    /// <exception cref="LeaseFormatException">The text is not a subnet key; the message says why.</exception>
    public static SubnetKey Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return TryParse(key, out var result, out var error)
            ? result
            : throw new LeaseFormatException($"not a subnet key: \"{key}\": {error}");
    }

    /// <summary>Tries to parse a key; see <see cref="Parse(string)"/>.</summary>
    /// <param name="key">The key text.</param>
    /// <param name="result">The key when the text is valid.</param>
    /// <returns>True when the text is a valid key.</returns>
    public static bool TryParse([NotNullWhen(true)] string? key, out SubnetKey result) => TryParse(key, out result, out _);

    private static bool TryParse(string? key, out SubnetKey result, out string error)
    {
        result = default;
        if (key is null)
        {
            error = "null";
            return false;
        }

        var text = key.AsSpan();
        var slash = text.LastIndexOf('/');
        if (slash >= 0)
        {
            text = text[(slash + 1)..];
        }

        var amp = text.IndexOf('&');
        var v4Text = amp < 0 ? text : text[..amp];
        if (!TryParsePart(v4Text, AddressFamily.InterNetwork, out var v4, out error))
        {
            return false;
        }

        IPNetwork? v6 = null;
        if (amp >= 0)
        {
            if (!TryParsePart(text[(amp + 1)..], AddressFamily.InterNetworkV6, out var v6Net, out error))
            {
                return false;
            }

            v6 = v6Net;
        }

        result = new SubnetKey(v4, v6);
        return true;
    }

    private static bool TryParsePart(ReadOnlySpan<char> part, AddressFamily family, out IPNetwork network, out string error)
    {
        network = default;
        var familyName = family == AddressFamily.InterNetwork ? "IPv4" : "IPv6";
        var dash = part.LastIndexOf('-');
        if (dash <= 0 || dash == part.Length - 1)
        {
            error = $"the {familyName} part \"{part}\" is not <address>-<prefix length>";
            return false;
        }

        var addrText = part[..dash];
        var lenText = part[(dash + 1)..];
        if (lenText.Length > 3 || lenText.IndexOfAnyExceptInRange('0', '9') >= 0 || (lenText.Length > 1 && lenText[0] == '0'))
        {
            error = $"the {familyName} prefix length \"{lenText}\" is not a number";
            return false;
        }

        var len = int.Parse(lenText, NumberStyles.None, CultureInfo.InvariantCulture);
        var maxLen = family == AddressFamily.InterNetwork ? 32 : 128;
        if (len > maxLen)
        {
            error = $"the {familyName} prefix length {len} is larger than {maxLen}";
            return false;
        }

        IPAddress addr;
        if (family == AddressFamily.InterNetwork)
        {
            if (!IPText.TryParseIPv4(addrText, out addr))
            {
                error = $"\"{addrText}\" is not a dotted-quad IPv4 address";
                return false;
            }
        }
        else
        {
            if (addrText.IndexOfAnyInRange('A', 'F') >= 0 || !IPText.TryParseIPv6(addrText, out addr))
            {
                error = $"\"{addrText}\" is not a lower-case IPv6 address";
                return false;
            }

            var canonical = IPText.Format(addr);
            if (!addrText.SequenceEqual(canonical))
            {
                error = $"the IPv6 address \"{addrText}\" is not in canonical form (\"{canonical}\")";
                return false;
            }
        }

        var normalized = IPText.Normalize(addr, len);
        if (!normalized.BaseAddress.Equals(addr))
        {
            error = $"\"{addrText}-{len}\" has host bits set (the subnet address is {IPText.Format(normalized.BaseAddress)})";
            return false;
        }

        network = normalized;
        error = string.Empty;
        return true;
    }
}
