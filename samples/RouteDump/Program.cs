// RouteDump: prints the main routing table like `ip route show` (IPv4 and IPv6), using only Flannel.Netlink.
// usage: RouteDump [NETNS]     (NETNS: a namespace made by `ip netns add`; default: this process's namespace)
using Flannel.Netlink;

using var ns = args.Length > 0 ? NetworkNamespace.OpenByName(args[0]) : null;
await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns });
var names = (await rtnl.Links.ListAsync()).ToDictionary(l => l.Index, l => l.Name);
foreach (var r in await rtnl.Routes.ListAsync())
{
    var line = r.Type switch
    {
        RouteType.Unicast => "",
        _ => r.Type.ToString().ToLowerInvariant() + " ",
    };
    line += r.Destination.PrefixLength == 0 ? "default" : r.Destination.PrefixLength is 32 or 128 ? r.Destination.BaseAddress.ToString() : r.Destination.ToString();
    if (r.Gateway is { } gw) { line += $" via {gw}"; }
    if (r.OutputInterface is { } oif && r.Type == RouteType.Unicast) { line += $" dev {names.GetValueOrDefault(oif, oif.ToString())}"; }
    if (r.Protocol != RouteProtocol.Boot) { line += $" proto {r.Protocol.ToString().ToLowerInvariant()}"; }
    if (r.Scope != RouteScope.Universe) { line += $" scope {r.Scope.ToString().ToLowerInvariant()}"; }
    if (r.PreferredSource is { } src) { line += $" src {src}"; }
    if (r.Metric is { } metric && metric != 0) { line += $" metric {metric}"; }
    if (r.OnLink) { line += " onlink"; }
    Console.WriteLine(line);
}
