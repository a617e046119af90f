using System.Net;
using System.Text.Json;

namespace Flannel;

/// <summary>
/// The overlay network configuration: flannel's net-conf.json, or the etcd <c>&lt;prefix&gt;/config</c> value,
/// as a typed object. Build it in code, or read it with <c>Parse</c>; both give the same object.
/// </summary>
/// <remarks>
/// Address families are nullable: an absent IPv6 network is <see langword="null"/>, never <c>::/0</c>.
/// <c>Validate</c> applies flannel's derivation rules (SubnetLen, SubnetMin, SubnetMax and their IPv6
/// counterparts) and returns a copy with every derived value filled in.
/// </remarks>
public sealed partial record NetworkConfig
{
    /// <summary>Whether IPv4 pod subnets are allocated (flannel default: true).</summary>
    public bool EnableIPv4 { get; init; } = true;

    /// <summary>Whether IPv6 pod subnets are allocated (flannel default: false).</summary>
    public bool EnableIPv6 { get; init; }

    /// <summary>The whole IPv4 overlay range (<c>Network</c>), normalised to its network address.</summary>
    public IPNetwork? Network { get; init; }

    /// <summary>The whole IPv6 overlay range (<c>IPv6Network</c>), normalised to its network address.</summary>
    public IPNetwork? IPv6Network { get; init; }

    /// <summary>Per-node IPv4 prefix length (<c>SubnetLen</c>); 0 means "derive".</summary>
    public int SubnetLen { get; init; }

    /// <summary>First allocatable IPv4 subnet address (<c>SubnetMin</c>); null means "derive".</summary>
    public IPAddress? SubnetMin { get; init; }

    /// <summary>Last allocatable IPv4 subnet address (<c>SubnetMax</c>); null means "derive".</summary>
    public IPAddress? SubnetMax { get; init; }

    /// <summary>Per-node IPv6 prefix length (<c>IPv6SubnetLen</c>); 0 means "derive".</summary>
    public int IPv6SubnetLen { get; init; }

    /// <summary>First allocatable IPv6 subnet address (<c>IPv6SubnetMin</c>); null means "derive".</summary>
    public IPAddress? IPv6SubnetMin { get; init; }

    /// <summary>Last allocatable IPv6 subnet address (<c>IPv6SubnetMax</c>); null means "derive".</summary>
    public IPAddress? IPv6SubnetMax { get; init; }

    /// <summary>Use nftables instead of iptables for masquerade and forward rules (<c>EnableNFTables</c>).</summary>
    public bool EnableNFTables { get; init; }

    /// <summary>The backend type (<c>Backend.Type</c>).</summary>
    public BackendType BackendType { get; init; } = BackendType.Vxlan;

    /// <summary>
    /// The raw <c>Backend</c> JSON object, handed unchanged to the backend, which parses its own options.
    /// Null when the configuration had no <c>Backend</c> object.
    /// </summary>
    public JsonElement? Backend { get; init; }
}
