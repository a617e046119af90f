using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Flannel.Internal;
using Flannel.Netlink;

namespace Flannel.Node;

/// <summary>
/// flanneld's interface and public-IP selection over netlink, in the node's network namespace:
/// explicit interfaces (name or IP), then regexes (addresses first, then names), then the interface that
/// reaches a given address; with none of these, the interface owning the public IP, else the default-route
/// interface (both families on the same interface in dual-stack).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NetlinkInterfaceResolver : IInterfaceResolver
{
    private const uint AddressSecondary = 0x01;   // IFA_F_SECONDARY == IFA_F_TEMPORARY
    private const uint AddressDeprecated = 0x20;  // IFA_F_DEPRECATED
    private const uint AddressPermanent = 0x80;   // IFA_F_PERMANENT

    private readonly string? _namespacePath;

    /// <summary>Creates a resolver.</summary>
    /// <param name="networkNamespacePath">The namespace to look in, as a path; null for the calling process's namespace.</param>
    public NetlinkInterfaceResolver(string? networkNamespacePath = null) => _namespacePath = networkNamespacePath;

    /// <inheritdoc />
    public async ValueTask<ExternalInterface> ResolveAsync(InterfaceSelection selection, IPAddress? publicIP, IPAddress? publicIPv6, NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(config);
        if (selection.Explicit is { } given)
        {
            return given;
        }

        using var ns = _namespacePath is null ? null : NetworkNamespace.OpenByPath(_namespacePath);
        await using var client = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = ns }, cancellationToken).ConfigureAwait(false);
        var links = await client.Links.ListAsync(cancellationToken).ConfigureAwait(false);
        var addresses = await client.Addresses.ListAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        bool v4 = config.EnableIPv4, v6 = config.EnableIPv6;

        Link? link = null;
        IPAddress? fixedAddress = null;
        if (selection.IsDefault)
        {
            if (((v4 ? publicIP : null) ?? (v6 ? publicIPv6 : null)) is { } pub)
            {
                var owner = addresses.FirstOrDefault(a => a.Address.Equals(pub))
                    ?? throw new FlannelConfigurationException("--public-ip", pub.ToString(), "with no --iface given, the public IP must be an address of a local interface (to advertise an address that is not local, for example behind NAT, also pass --iface)");
                link = links.First(l => l.Index == owner.InterfaceIndex);
                fixedAddress = pub;
            }
            else
            {
                link = await DefaultRouteLinkAsync(client, links, v4, v6, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            if (await MatchAsync(client, selection, links, addresses, v4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6, cancellationToken).ConfigureAwait(false) is var (matched, address))
            {
                link = matched;
                fixedAddress = address;
            }
        }

        if (link is null)
        {
            throw new FlannelConfigurationException("--iface", Describe(selection), "no interface matches; check the names, addresses and regular expressions against `ip addr`");
        }

        if (link.Mtu is not > 0)
        {
            throw new FlannelConfigurationException("--iface", link.Name, "the interface reports no MTU");
        }

        IPAddress? address4 = null, address6 = null;
        if (v4)
        {
            address4 = fixedAddress is { AddressFamily: AddressFamily.InterNetwork } ? fixedAddress : PickAddress(addresses, link.Index, AddressFamily.InterNetwork)
                ?? throw new FlannelConfigurationException("--iface", link.Name, "the interface has no usable IPv4 address (EnableIPv4 is set)");
        }

        if (v6)
        {
            address6 = fixedAddress is { AddressFamily: AddressFamily.InterNetworkV6 } ? fixedAddress : PickAddress(addresses, link.Index, AddressFamily.InterNetworkV6)
                ?? throw new FlannelConfigurationException("--iface", link.Name, "the interface has no usable IPv6 address (EnableIPv6 is set)");
        }

        return new ExternalInterface
        {
            Name = link.Name,
            Index = link.Index,
            Mtu = link.Mtu.Value,
            Address = address4,
            IPv6Address = address6,
            PublicIP = v4 ? publicIP ?? address4 : null,
            PublicIPv6 = v6 ? publicIPv6 ?? address6 : null,
        };
    }

    private static async ValueTask<Link?> DefaultRouteLinkAsync(RtnetlinkClient client, IReadOnlyList<Link> links, bool v4, bool v6, CancellationToken ct)
    {
        int? index4 = null, index6 = null;
        if (v4)
        {
            index4 = (await client.Routes.GetDefaultRouteAsync(AddressFamily.InterNetwork, ct).ConfigureAwait(false))?.OutputInterface
                ?? throw new FlannelConfigurationException("--iface", null, "no interface given and there is no IPv4 default route to pick one from; pass --iface, --iface-regex or --iface-can-reach");
        }

        if (v6)
        {
            index6 = (await client.Routes.GetDefaultRouteAsync(AddressFamily.InterNetworkV6, ct).ConfigureAwait(false))?.OutputInterface
                ?? throw new FlannelConfigurationException("--iface", null, "no interface given and there is no IPv6 default route to pick one from; pass --iface, --iface-regex or --iface-can-reach");
        }

        if (index4 is { } a && index6 is { } b && a != b)
        {
            throw new FlannelConfigurationException("--iface", null, $"dual-stack needs the IPv4 and IPv6 default routes on the same interface (they use {Name(links, a)} and {Name(links, b)}); pass --iface");
        }

        var index = index4 ?? index6;
        return links.FirstOrDefault(l => l.Index == index);
    }

    private static async ValueTask<(Link Link, IPAddress? Address)?> MatchAsync(RtnetlinkClient client, InterfaceSelection selection, IReadOnlyList<Link> links, IReadOnlyList<InterfaceAddress> addresses, AddressFamily family, CancellationToken ct)
    {
        foreach (var entry in selection.Interfaces)
        {
            // Go's net.ParseIP: "1" or "10.1" are interface names, not the inet_aton shorthands IPAddress.TryParse reads.
            if (IPText.TryParseIP(entry, out var ip))
            {
                if (addresses.FirstOrDefault(a => a.Address.Equals(ip)) is { } owner)
                {
                    return (links.First(l => l.Index == owner.InterfaceIndex), ip);
                }
            }
            else if (links.FirstOrDefault(l => l.Name == entry) is { } named)
            {
                return (named, null);
            }
        }

        foreach (var pattern in selection.Regexes)
        {
            Regex regex;
            try
            {
                regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                throw new FlannelConfigurationException("--iface-regex", pattern, "not a valid regular expression", ex);
            }

            foreach (var l in links)
            {
                foreach (var a in addresses.Where(a => a.InterfaceIndex == l.Index && a.Family == family))
                {
                    if (regex.IsMatch(a.Address.ToString()))
                    {
                        return (l, a.Address);
                    }
                }
            }

            if (links.FirstOrDefault(l => regex.IsMatch(l.Name)) is { } byName)
            {
                return (byName, null);
            }
        }

        if (selection.CanReach is { } target)
        {
            var route = await client.Routes.GetRouteToAsync(target, ct).ConfigureAwait(false);
            if (route?.OutputInterface is { } index && links.FirstOrDefault(l => l.Index == index) is { } reaching)
            {
                return (reaching, route.PreferredSource is { } src && src.AddressFamily == family ? src : null);
            }
        }

        return null;
    }

    /// <summary>flannel's address order: global before link-local, permanent before dynamic, primary before temporary.</summary>
    private static IPAddress? PickAddress(IReadOnlyList<InterfaceAddress> addresses, int index, AddressFamily family) =>
        addresses
            .Where(a => a.InterfaceIndex == index && a.Family == family && (a.Flags & AddressDeprecated) == 0)
            .Where(a => a.Scope is RouteScope.Universe or RouteScope.Link)
            .Where(a => !IPAddress.IsLoopback(a.Address) && !a.Address.IsIPv6Multicast)
            .OrderBy(a => a.Scope == RouteScope.Universe ? 0 : 1)
            .ThenBy(a => (a.Flags & AddressPermanent) != 0 || family == AddressFamily.InterNetwork ? 0 : 1)
            .ThenBy(a => (a.Flags & AddressSecondary) == 0 ? 0 : 1)
            .Select(a => a.Address)
            .FirstOrDefault();

    private static string Name(IReadOnlyList<Link> links, int index) => links.FirstOrDefault(l => l.Index == index)?.Name ?? $"#{index}";

    private static string Describe(InterfaceSelection s) =>
        string.Join(", ", s.Interfaces.Concat(s.Regexes.Select(r => "/" + r + "/")).Concat(s.CanReach is null ? [] : ["can-reach " + s.CanReach]));
}
