using System.Net;
using System.Text.Json;
using Xunit;

namespace Flannel.Udp.Tests;

/// <summary>Configuration errors are reported before anything touches the kernel or the lease store.</summary>
public sealed class RegistrationTests
{
    private static BackendContext Context(LeaseBoard board, IPAddress? address, int mtu = 1500) => new()
    {
        SubnetManager = board.ManagerFor(),
        Interface = new ExternalInterface { Name = "eth0", Index = 2, Mtu = mtu, Address = address },
    };

    [Fact]
    public async Task An_interface_without_an_IPv4_address_is_a_clear_error()
    {
        using var board = new LeaseBoard();
        var backend = new UdpBackendFactory().Create(Context(board, null));
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await backend.RegisterNetworkAsync(board.Config, CancellationToken.None));
        Assert.Equal("Interface.Address", ex.Field);
        Assert.Empty((await board.Registry.ListAsync(CancellationToken.None)).Leases);
    }

    [Fact]
    public async Task IPv6_is_refused()
    {
        using var board = new LeaseBoard();
        var backend = new UdpBackendFactory().Create(Context(board, IPAddress.Parse("198.18.0.1")));
        var config = board.Config with { EnableIPv6 = true, IPv6Network = IPNetwork.Parse("fd00::/56") };
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await backend.RegisterNetworkAsync(config, CancellationToken.None));
        Assert.Equal("EnableIPv6", ex.Field);
    }

    [Fact]
    public async Task A_bad_port_is_reported_before_a_lease_is_taken()
    {
        using var board = new LeaseBoard();
        var backend = new UdpBackendFactory().Create(Context(board, IPAddress.Parse("198.18.0.1")));
        var config = board.Config with { Backend = JsonDocument.Parse("""{"Type":"udp","Port":"x"}""").RootElement.Clone() };
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await backend.RegisterNetworkAsync(config, CancellationToken.None));
        Assert.Equal("Backend.Port", ex.Field);
        Assert.Empty((await board.Registry.ListAsync(CancellationToken.None)).Leases);
    }

    [Fact]
    public async Task An_underlay_MTU_too_small_for_the_encapsulation_is_an_error()
    {
        using var board = new LeaseBoard();
        var backend = new UdpBackendFactory().Create(Context(board, IPAddress.Parse("198.18.0.1"), mtu: 90));
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await backend.RegisterNetworkAsync(board.Config, CancellationToken.None));
        Assert.Equal("Interface.Mtu", ex.Field);
    }

    [Fact]
    public void Resources_name_the_socket_and_a_fixed_device()
    {
        using var board = new LeaseBoard();
        var ctx = Context(board, IPAddress.Parse("198.18.0.1"));
        var config = board.Config with { Backend = JsonDocument.Parse("""{"Type":"udp","Port":9000}""").RootElement.Clone() };
        Assert.Equal(["udp:198.18.0.1:9000"], new UdpBackendFactory().GetResources(config, ctx));
        Assert.Equal(["udp:198.18.0.1:8285", "link:tun7"], new UdpBackendFactory(new UdpBackendOptions { DeviceName = "tun7" }).GetResources(board.Config, ctx));
        Assert.Throws<FlannelConfigurationException>(() => new UdpBackendFactory().GetResources(board.Config with { Backend = JsonDocument.Parse("""{"Port":-1}""").RootElement.Clone() }, ctx));
    }

    [Fact]
    public void The_factory_serves_type_udp() => Assert.Equal("udp", new UdpBackendFactory().Type.Value);
}
