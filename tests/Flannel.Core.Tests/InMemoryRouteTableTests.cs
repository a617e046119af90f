using Flannel.TestKit;

namespace Flannel.Core.Tests;

public sealed class InMemoryRouteTableTests : KernelStyleRouteTableContract
{
    protected override Task<IRouteTable> CreateAsync() => Task.FromResult<IRouteTable>(new InMemoryRouteTable());
}

/// <summary>The contract as a cloud table sees it: destination + opaque next hop only.</summary>
public sealed class InMemoryRouteTableCloudShapeTests : RouteTableContract
{
    protected override bool SupportsBlackhole => false;

    protected override bool SupportsOnLink => false;

    protected override bool SupportsIPv6 => false;

    protected override Task<IRouteTable> CreateAsync() => Task.FromResult<IRouteTable>(new InMemoryRouteTable());

    protected override OverlayRoute Route(System.Net.IPNetwork destination, int hop) =>
        new(destination) { NextHop = hop == 0 ? "i-0123456789abcdef0" : "i-0fedcba9876543210" };
}
