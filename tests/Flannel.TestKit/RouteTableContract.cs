using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Flannel.TestKit;

/// <summary>
/// The behaviour every <see cref="IRouteTable"/> must have (kernel, cloud, in-memory). Derive a test class,
/// implement <see cref="CreateAsync"/>, and override the capability flags and route factories where the table
/// cannot hold what the defaults build (cloud tables: destination + <see cref="OverlayRoute.NextHop"/> only;
/// kernel tables: a device that exists in the test's namespace).
/// </summary>
/// <remarks>
/// Routes already in the table when a test starts (the kernel's connected routes, a VPC's local route) are taken
/// as a baseline: the tests check that the table holds exactly the baseline plus what they added.
/// </remarks>
public abstract class RouteTableContract
{
    /// <summary>Creates the table under test, empty apart from routes outside the contract's destinations.</summary>
    /// <returns>The table.</returns>
    protected abstract Task<IRouteTable> CreateAsync();

    /// <summary>Whether the table holds IPv6 routes.</summary>
    protected virtual bool SupportsIPv6 => true;

    /// <summary>Whether the table holds blackhole routes.</summary>
    protected virtual bool SupportsBlackhole => true;

    /// <summary>Whether the table honours <see cref="OverlayRoute.OnLink"/>.</summary>
    protected virtual bool SupportsOnLink => true;

    /// <summary>A bound for each call, so a hung table fails the test instead of hanging the run.</summary>
    protected virtual TimeSpan CallTimeout => TimeSpan.FromSeconds(30);

    /// <summary>The <paramref name="index"/>-th destination used by the tests, per family (10.244.x.0/24, fd10:244:x::/64).</summary>
    /// <param name="family">The address family.</param>
    /// <param name="index">0, 1, 2, …</param>
    /// <returns>The destination.</returns>
    protected virtual IPNetwork Destination(AddressFamily family, int index) =>
        family == AddressFamily.InterNetwork
            ? new IPNetwork(new IPAddress([10, 244, (byte)(10 + index), 0]), 24)
            : IPNetwork.Parse($"fd10:244:{10 + index:x}::/64");

    /// <summary>
    /// A unicast route to <paramref name="destination"/> through next hop number <paramref name="hop"/> (0 or 1; the
    /// two must differ). Default: gateways 198.18.0.2/.3 or fd18::2/3 with no device.
    /// </summary>
    /// <param name="destination">The destination.</param>
    /// <param name="hop">Which of two next hops.</param>
    /// <returns>The route.</returns>
    protected virtual OverlayRoute Route(IPNetwork destination, int hop) =>
        new(destination)
        {
            Gateway = destination.BaseAddress.AddressFamily == AddressFamily.InterNetwork
                ? new IPAddress([198, 18, 0, (byte)(2 + hop)])
                : IPAddress.Parse($"fd18::{2 + hop}"),
        };

    /// <summary>An on-link route to <paramref name="destination"/> (gateway + device + onlink). Default device: <c>flannel.1</c>.</summary>
    /// <param name="destination">The destination.</param>
    /// <returns>The route.</returns>
    protected virtual OverlayRoute OnLinkRoute(IPNetwork destination) =>
        Route(destination, 0) with { Device = "flannel.1", OnLink = true };

    /// <summary>A blackhole route to <paramref name="destination"/>.</summary>
    /// <param name="destination">The destination.</param>
    /// <returns>The route.</returns>
    protected virtual OverlayRoute BlackholeRoute(IPNetwork destination) => new(destination) { Type = OverlayRouteType.Blackhole };

    /// <summary>
    /// Whether a listed route is the route the test installed. Default: same destination, type, gateway, next hop and
    /// on-link flag; device and table only when the expected route names them (tables may fill in defaults).
    /// </summary>
    /// <param name="expected">What the test installed.</param>
    /// <param name="actual">What the table lists.</param>
    /// <returns>True when they match.</returns>
    protected virtual bool Matches(OverlayRoute expected, OverlayRoute actual) =>
        expected.Destination.Equals(actual.Destination)
        && expected.Type == actual.Type
        && Equals(expected.Gateway, actual.Gateway)
        && expected.NextHop == actual.NextHop
        && (!SupportsOnLink || expected.OnLink == actual.OnLink)
        && (expected.Device is null || expected.Device == actual.Device)
        && (expected.Table is null || expected.Table == actual.Table);

    /// <summary>Replace adds a missing route, and the table lists it.</summary>
    [Fact]
    public async Task ReplaceAddsRoute()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var route = Route(Destination(AddressFamily.InterNetwork, 0), 0);
        await ReplaceAsync(table, route);
        await AssertHoldsExactly(table, baseline, route);
    }

    /// <summary>Replace swaps a route to the same destination that has another next hop.</summary>
    [Fact]
    public async Task ReplaceReplacesConflictingRoute()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var dst = Destination(AddressFamily.InterNetwork, 1);
        await ReplaceAsync(table, Route(dst, 0));
        var second = Route(dst, 1);
        await ReplaceAsync(table, second);
        await AssertHoldsExactly(table, baseline, second);
    }

    /// <summary>Replacing with the same route again changes nothing and does not fail.</summary>
    [Fact]
    public async Task ReplaceIsIdempotent()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var route = Route(Destination(AddressFamily.InterNetwork, 2), 0);
        await ReplaceAsync(table, route);
        await ReplaceAsync(table, route);
        await ReplaceAsync(table, route);
        await AssertHoldsExactly(table, baseline, route);
    }

    /// <summary>Delete returns true when it removed the route, then false.</summary>
    [Fact]
    public async Task DeleteReturnsTrueThenFalse()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var route = Route(Destination(AddressFamily.InterNetwork, 3), 0);
        Assert.False(await DeleteAsync(table, route));
        await ReplaceAsync(table, route);
        Assert.True(await DeleteAsync(table, route));
        Assert.False(await DeleteAsync(table, route));
        await AssertHoldsExactly(table, baseline);
    }

    /// <summary>With several routes installed and some deleted, the table lists exactly the remaining ones.</summary>
    [Fact]
    public async Task ListShowsExactlyWhatIsThere()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var routes = Enumerable.Range(4, 5).Select(i => Route(Destination(AddressFamily.InterNetwork, i), i % 2)).ToList();
        foreach (var r in routes)
        {
            await ReplaceAsync(table, r);
        }

        await AssertHoldsExactly(table, baseline, [.. routes]);
        Assert.True(await DeleteAsync(table, routes[1]));
        Assert.True(await DeleteAsync(table, routes[3]));
        await AssertHoldsExactly(table, baseline, routes[0], routes[2], routes[4]);
        foreach (var r in routes)
        {
            await DeleteAsync(table, r);
        }

        await AssertHoldsExactly(table, baseline);
    }

    /// <summary>Calls the table's replace with the contract's time bound.</summary>
    /// <param name="table">The table.</param>
    /// <param name="route">The route.</param>
    /// <returns>A task.</returns>
    protected async Task ReplaceAsync(IRouteTable table, OverlayRoute route)
    {
        using var cts = new CancellationTokenSource(CallTimeout);
        await table.ReplaceAsync(route, cts.Token);
    }

    /// <summary>Calls the table's delete with the contract's time bound.</summary>
    /// <param name="table">The table.</param>
    /// <param name="route">The route.</param>
    /// <returns>Whether a route was removed.</returns>
    protected async Task<bool> DeleteAsync(IRouteTable table, OverlayRoute route)
    {
        using var cts = new CancellationTokenSource(CallTimeout);
        return await table.DeleteAsync(route, cts.Token);
    }

    /// <summary>Calls the table's list with the contract's time bound.</summary>
    /// <param name="table">The table.</param>
    /// <returns>The routes.</returns>
    protected async Task<IReadOnlyList<OverlayRoute>> ListAsync(IRouteTable table)
    {
        using var cts = new CancellationTokenSource(CallTimeout);
        return await table.ListAsync(cts.Token);
    }

    protected async Task AssertHoldsExactly(IRouteTable table, IReadOnlyList<OverlayRoute> baseline, params OverlayRoute[] expected)
    {
        var listed = await ListAsync(table);
        var extra = listed.Where(r => !baseline.Contains(r) && !expected.Any(e => Matches(e, r))).ToList();
        var missing = expected.Where(e => !listed.Any(r => Matches(e, r))).ToList();
        Assert.True(
            extra.Count == 0 && missing.Count == 0,
            $"table differs from what was installed.\n missing: {string.Join("; ", missing)}\n unexpected: {string.Join("; ", extra)}\n listed: {string.Join("; ", listed)}");
        foreach (var e in expected)
        {
            Assert.Single(listed, r => r.Destination.Equals(e.Destination) && (e.Table is null || r.Table == e.Table));
        }
    }
}
