using System.Globalization;
using System.Net;
using System.Text;
using Flannel.Internal;

namespace Flannel;

/// <summary>
/// The content of flannel's subnet.env (<c>/run/flannel/subnet.env</c>), which the flannel CNI plugin and docker
/// scripts read: <c>FLANNEL_NETWORK</c>, <c>FLANNEL_SUBNET</c>, <c>FLANNEL_IPV6_NETWORK</c>, <c>FLANNEL_IPV6_SUBNET</c>,
/// <c>FLANNEL_MTU</c>, <c>FLANNEL_IPMASQ</c>. Subnets are held in network form (<c>10.244.5.0/24</c>); the file
/// carries the first host address (<c>10.244.5.1/24</c>), as flannel writes it.
/// </summary>
public sealed record SubnetEnvironment
{
    /// <summary>The IPv4 overlay network (<c>FLANNEL_NETWORK</c>), or null when IPv4 is off.</summary>
    public IPNetwork? Network { get; init; }

    /// <summary>The node's IPv4 subnet in network form (<c>FLANNEL_SUBNET</c> carries its first host address).</summary>
    public IPNetwork? Subnet { get; init; }

    /// <summary>The IPv6 overlay network (<c>FLANNEL_IPV6_NETWORK</c>), or null.</summary>
    public IPNetwork? IPv6Network { get; init; }

    /// <summary>The node's IPv6 subnet in network form (<c>FLANNEL_IPV6_SUBNET</c> carries address + 1).</summary>
    public IPNetwork? IPv6Subnet { get; init; }

    /// <summary>The MTU pods should use (<c>FLANNEL_MTU</c>); 0 when the file had none.</summary>
    public int Mtu { get; init; }

    /// <summary>Whether flannel masquerades pod traffic (<c>FLANNEL_IPMASQ</c>).</summary>
    public bool IPMasq { get; init; }

    /// <summary>
    /// Flannel.Net extension: the backend type, written as a trailing <c>FLANNEL_BACKEND_TYPE</c> line only when set
    /// (readers of flannel's format ignore unknown keys), so a restart can tell that the backend changed.
    /// </summary>
    public BackendType BackendType { get; init; }

    /// <summary>Builds the file content for a node's lease.</summary>
    /// <param name="config">The validated network configuration.</param>
    /// <param name="lease">The node's lease.</param>
    /// <param name="mtu">The backend's MTU (<see cref="INetwork.Mtu"/>).</param>
    /// <param name="ipMasq">Whether masquerading is on.</param>
    /// <returns>The environment.</returns>
    public static SubnetEnvironment FromLease(NetworkConfig config, Lease lease, int mtu, bool ipMasq)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(lease);
        return new SubnetEnvironment
        {
            Network = config.EnableIPv4 ? config.Network : null,
            Subnet = config.EnableIPv4 ? lease.Subnet : null,
            IPv6Network = config.EnableIPv6 ? config.IPv6Network : null,
            IPv6Subnet = config.EnableIPv6 ? lease.IPv6Subnet : null,
            Mtu = mtu,
            IPMasq = ipMasq,
        };
    }

    /// <summary>Writes the file text exactly as flanneld does (keys in flannel's order, <c>KEY=value</c>, one per line).</summary>
    /// <returns>The text.</returns>
    public string Format()
    {
        var sb = new StringBuilder(200);
        if (Network is { } n && Subnet is { } s)
        {
            sb.Append("FLANNEL_NETWORK=").Append(IPText.Format(n)).Append('\n');
            sb.Append("FLANNEL_SUBNET=").Append(FirstHost(s)).Append('\n');
        }

        if (IPv6Network is { } n6 && IPv6Subnet is { } s6)
        {
            sb.Append("FLANNEL_IPV6_NETWORK=").Append(IPText.Format(n6)).Append('\n');
            sb.Append("FLANNEL_IPV6_SUBNET=").Append(FirstHost(s6)).Append('\n');
        }

        sb.Append("FLANNEL_MTU=").Append(Mtu.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("FLANNEL_IPMASQ=").Append(IPMasq ? "true" : "false").Append('\n');
        if (!BackendType.IsEmpty)
        {
            sb.Append("FLANNEL_BACKEND_TYPE=").Append(BackendType.Value).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>
    /// Reads subnet.env text, dotenv-style: blank lines and <c>#</c> comments are skipped, <c>export </c> and quotes
    /// are accepted, unknown keys are ignored. Subnets are read as CIDRs and normalised (<c>10.5.52.1/24</c> →
    /// <c>10.5.52.0/24</c>); a comma-separated list is ignored for the previous subnet, as flannel does.
    /// </summary>
    /// <param name="text">The file content.</param>
    /// <returns>The environment.</returns>
    /// <exception cref="FlannelConfigurationException">A value is malformed; the exception names the key and the value.</exception>
    public static SubnetEnvironment Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var env = new SubnetEnvironment();
        var lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            var line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FlannelConfigurationException($"subnet.env line {lineNo}: \"{Shorten(line)}\" is not KEY=value");
            }

            var key = line[..eq].Trim();
            var value = Unquote(line[(eq + 1)..].Trim());
            env = key switch
            {
                "FLANNEL_NETWORK" => env with { Network = ReadCidr(key, value) },
                "FLANNEL_SUBNET" => env with { Subnet = ReadCidr(key, value) },
                "FLANNEL_IPV6_NETWORK" => env with { IPv6Network = ReadCidr(key, value) },
                "FLANNEL_IPV6_SUBNET" => env with { IPv6Subnet = ReadCidr(key, value) },
                "FLANNEL_MTU" => env with { Mtu = ReadMtu(key, value) },
                "FLANNEL_IPMASQ" => env with { IPMasq = ReadBool(key, value) },
                "FLANNEL_BACKEND_TYPE" => env with { BackendType = value.Length == 0 ? default : new BackendType(value) },
                _ => env,
            };
        }

        return env;
    }

    private static string FirstHost(IPNetwork subnet)
    {
        var family = subnet.BaseAddress.AddressFamily;
        var first = IPText.FromUInt128(IPText.ToUInt128(subnet.BaseAddress) + UInt128.One, family);
        return string.Create(CultureInfo.InvariantCulture, $"{IPText.Format(first)}/{subnet.PrefixLength}");
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] is '"' or '\'') && value[^1] == value[0] ? value[1..^1] : value;

    private static string Shorten(string s) => s.Length > 60 ? s[..57] + "..." : s;

    private static IPNetwork? ReadCidr(string key, string value)
    {
        if (value.Length == 0 || value.Contains(',', StringComparison.Ordinal))
        {
            return null; // empty, or a list: flannel uses a previous subnet only when there is exactly one
        }

        return IPText.TryParseCidr(value, out var net)
            ? net
            : throw new FlannelConfigurationException(key, value, "must be a CIDR such as 10.244.5.1/24 or 2001:cafe:42::1/64");
    }

    private static int ReadMtu(string key, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mtu) && mtu is >= 68 and <= 65535
            ? mtu
            : throw new FlannelConfigurationException(key, value, "must be an MTU between 68 and 65535");

    private static bool ReadBool(string key, string value) => value switch
    {
        "true" or "TRUE" or "True" or "1" or "t" or "T" => true,
        "false" or "FALSE" or "False" or "0" or "f" or "F" => false,
        _ => throw new FlannelConfigurationException(key, value, "must be true or false"),
    };
}
