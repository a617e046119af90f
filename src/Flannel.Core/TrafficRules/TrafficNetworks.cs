using System.Net;
using System.Net.Sockets;

namespace Flannel.TrafficRules;

/// <summary>
/// The networks the traffic rules are built from: the flannel network (flannel's <c>Network</c> /
/// <c>IPv6Network</c>, called N in the rule text) and this node's lease subnet (P), per address family.
/// A family whose network is null gets no rules.
/// </summary>
/// <example>
/// <code>
/// var current = new TrafficNetworks
/// {
///     Network = IPNetwork.Parse("10.244.0.0/16"),
///     Subnet = IPNetwork.Parse("10.244.5.0/24"),
/// };
/// await manager.EnsureMasqueradeRulesAsync(current, previous: null, ct);
/// </code>
/// </example>
public sealed record TrafficNetworks
{
    /// <summary>The IPv4 flannel network (N), for example <c>10.244.0.0/16</c>; null when IPv4 is not in use.</summary>
    public IPNetwork? Network { get; init; }

    /// <summary>This node's IPv4 lease subnet (P), for example <c>10.244.5.0/24</c>; needed for masquerade rules.</summary>
    public IPNetwork? Subnet { get; init; }

    /// <summary>The IPv6 flannel network; null when IPv6 is not in use.</summary>
    public IPNetwork? IPv6Network { get; init; }

    /// <summary>This node's IPv6 lease subnet; needed for IPv6 masquerade rules.</summary>
    public IPNetwork? IPv6Subnet { get; init; }

    /// <summary>The network of one family.</summary>
    internal IPNetwork? NetworkOf(IpFamily family) => family == IpFamily.V4 ? Network : IPv6Network;

    /// <summary>The lease subnet of one family.</summary>
    internal IPNetwork? SubnetOf(IpFamily family) => family == IpFamily.V4 ? Subnet : IPv6Subnet;

    /// <summary>
    /// Checks the address families and, when <paramref name="requireSubnet"/> is set, that every network has a
    /// subnet inside it. Throws <see cref="ArgumentException"/> naming the property and the value.
    /// </summary>
    internal void Validate(string parameterName, bool requireSubnet)
    {
        Check(nameof(Network), Network, AddressFamily.InterNetwork);
        Check(nameof(Subnet), Subnet, AddressFamily.InterNetwork);
        Check(nameof(IPv6Network), IPv6Network, AddressFamily.InterNetworkV6);
        Check(nameof(IPv6Subnet), IPv6Subnet, AddressFamily.InterNetworkV6);
        if (requireSubnet)
        {
            CheckPair(nameof(Network), Network, nameof(Subnet), Subnet);
            CheckPair(nameof(IPv6Network), IPv6Network, nameof(IPv6Subnet), IPv6Subnet);
        }

        void Check(string name, IPNetwork? value, AddressFamily family)
        {
            if (value is { } v && v.BaseAddress.AddressFamily != family)
            {
                var want = family == AddressFamily.InterNetwork ? "an IPv4" : "an IPv6";
                throw new ArgumentException($"{name} {v} must be {want} network", parameterName);
            }
        }

        void CheckPair(string networkName, IPNetwork? network, string subnetName, IPNetwork? subnet)
        {
            if (network is not { } n)
            {
                return;
            }

            if (subnet is not { } s)
            {
                throw new ArgumentException($"{subnetName} is required when {networkName} ({n}) is set: masquerade rules are built from both", parameterName);
            }

            if (s.PrefixLength < n.PrefixLength || !n.Contains(s.BaseAddress))
            {
                throw new ArgumentException($"{subnetName} {s} is not inside {networkName} {n}", parameterName);
            }
        }
    }
}
