using System.Runtime.Versioning;
using Flannel.Netlink;

namespace Flannel.Kernel;

/// <summary>Options for <see cref="KernelRouteTable"/>.</summary>
/// <example><code>var table = new KernelRouteTable(new KernelRouteTableOptions { Device = "flannel.1", Table = 254 });</code></example>
[SupportedOSPlatform("linux")]
public sealed class KernelRouteTableOptions
{
    /// <summary>The network namespace whose routes to manage; null for the process's own.</summary>
    public NetworkNamespace? Namespace { get; set; }

    /// <summary>The routing table id used when a route does not name one; default main (254).</summary>
    public int Table { get; set; } = 254;

    /// <summary>
    /// The device that scopes this table, or null for none. When set, routes without a device go through it, and
    /// list/delete see only routes through it.
    /// </summary>
    public string? Device { get; set; }

    /// <summary>
    /// The rtm_protocol that marks routes as this table's: installed routes carry it, and list/delete see only routes
    /// that carry it. Default <see cref="RouteProtocol.Boot"/>, which is what Go flanneld's routes carry, so both
    /// manage the same routes.
    /// </summary>
    public RouteProtocol Protocol { get; set; } = RouteProtocol.Boot;
}

/// <summary>
/// <see cref="IRouteTable"/> over a kernel routing table (rtnetlink). Replace uses NLM_F_REPLACE, so a route to the same
/// destination and table is swapped atomically; Delete returns false when there was nothing (of this table's
/// protocol) to delete; List asks the kernel to filter by table, device and protocol.
/// </summary>
/// <example>
/// <code>
/// await using var table = new KernelRouteTable(new KernelRouteTableOptions { Device = "flannel.1" });
/// await table.ReplaceAsync(new OverlayRoute(IPNetwork.Parse("10.244.2.0/24")) { Gateway = IPAddress.Parse("10.244.2.0"), OnLink = true }, ct);
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public sealed class KernelRouteTable : IRouteTable, IAsyncDisposable
{
    private readonly RtnetlinkClient _client;
    private readonly bool _ownsClient;
    private readonly KernelRouteTableOptions _options;

    /// <summary>Creates a table with its own rtnetlink client, opened into <see cref="KernelRouteTableOptions.Namespace"/>.</summary>
    /// <param name="options">The options.</param>
    public KernelRouteTable(KernelRouteTableOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        _options = options;
        _client = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = options.Namespace });
        _ownsClient = true;
    }

    /// <summary>Creates a table over an existing client (not disposed with the table); the options' namespace is ignored.</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The options.</param>
    public KernelRouteTable(RtnetlinkClient client, KernelRouteTableOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        _client = client;
        _options = options;
    }

    /// <inheritdoc />
    public async ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (route.Gateway is { } gw && gw.AddressFamily != route.Destination.BaseAddress.AddressFamily)
        {
            throw new ArgumentException($"gateway {gw} is not in the address family of destination {route.Destination}", nameof(route));
        }

        if (route.Type == OverlayRouteType.Blackhole && route.Gateway is not null)
        {
            throw new ArgumentException($"blackhole route to {route.Destination} cannot have a gateway", nameof(route));
        }

        var device = route.Type == OverlayRouteType.Blackhole ? null : await ResolveDeviceAsync(route.Device ?? _options.Device, cancellationToken).ConfigureAwait(false);
        await _client.Routes.ReplaceAsync(
            new RouteSpec(route.Destination)
            {
                Gateway = route.Gateway,
                Device = device,
                OnLink = route.OnLink,
                Type = route.Type == OverlayRouteType.Blackhole ? RouteType.Blackhole : RouteType.Unicast,
                Table = (uint)(route.Table ?? _options.Table),
                Protocol = _options.Protocol,
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        int? device = null;
        if (_options.Device is { } scope)
        {
            device = await ResolveDeviceOrNullAsync(scope, cancellationToken).ConfigureAwait(false);
            if (device is null)
            {
                return false; // the scoping device is gone, and its routes with it
            }
        }

        return await _client.Routes.DeleteAsync(
            new RouteSpec(route.Destination) { Device = device, Table = (uint)(route.Table ?? _options.Table), Protocol = _options.Protocol },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken)
    {
        int? device = null;
        if (_options.Device is { } scope)
        {
            device = await ResolveDeviceOrNullAsync(scope, cancellationToken).ConfigureAwait(false);
            if (device is null)
            {
                return [];
            }
        }

        var routes = await _client.Routes.ListAsync(
            new RouteFilter { Table = (uint)_options.Table, Device = device, Protocol = _options.Protocol },
            cancellationToken).ConfigureAwait(false);
        var names = (await _client.Links.ListAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(l => l.Index, l => l.Name);
        var result = new List<OverlayRoute>(routes.Count);
        foreach (var r in routes)
        {
            if (r.Type is not (RouteType.Unicast or RouteType.Blackhole))
            {
                continue;
            }

            var blackhole = r.Type == RouteType.Blackhole;
            result.Add(new OverlayRoute(r.Destination)
            {
                Gateway = r.Gateway,
                Device = blackhole || r.OutputInterface is not { } oif ? null : names.GetValueOrDefault(oif),
                Table = (int)r.Table,
                OnLink = r.OnLink,
                Type = blackhole ? OverlayRouteType.Blackhole : OverlayRouteType.Unicast,
            });
        }

        return result;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _ownsClient ? _client.DisposeAsync() : ValueTask.CompletedTask;

    private async ValueTask<int?> ResolveDeviceAsync(string? name, CancellationToken cancellationToken)
    {
        if (name is null)
        {
            return null;
        }

        return await ResolveDeviceOrNullAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new FlannelException($"route device '{name}' does not exist");
    }

    private async ValueTask<int?> ResolveDeviceOrNullAsync(string name, CancellationToken cancellationToken) =>
        (await _client.Links.GetAsync(name, cancellationToken).ConfigureAwait(false))?.Index;

    private static void Validate(KernelRouteTableOptions options)
    {
        if (options.Table is <= 0 or 255 or 253)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Table, "Table must be a positive routing table id other than local (255) and default (253)");
        }
    }
}
