using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Core.Tests;

public class BackendTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class FakeFactory(string type) : IBackendFactory
    {
        public BackendType Type { get; } = new(type);

        public IBackend Create(BackendContext context) => throw new NotSupportedException();
    }

    [Fact]
    public void RegistryFindsFactoriesAndListsKnownTypesOnError()
    {
        var registry = new BackendRegistry([new AllocBackendFactory(), new FakeFactory("vxlan"), new FakeFactory("host-gw")]);
        Assert.Equal(["alloc", "host-gw", "vxlan"], registry.Types.Select(t => t.Value));
        Assert.True(registry.TryGetFactory(new BackendType("VXLAN"), out _));
        var ex = Assert.Throws<FlannelConfigurationException>(() => registry.GetFactory(new BackendType("udp")));
        Assert.Equal("Backend.Type", ex.Field);
        Assert.Equal("udp", ex.Value);
        Assert.Contains("unknown backend type; registered types: alloc, host-gw, vxlan", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateTypesAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new BackendRegistry([new FakeFactory("vxlan"), new FakeFactory("VXLAN")]));
        Assert.Contains("two backend factories are registered for type \"vxlan\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RunningBackendIsFixed()
    {
        BackendGuard.EnsureUnchanged(BackendType.Vxlan, NetworkConfig.Parse("""{"Network":"10.1.0.0/16","Backend":{"Type":"VXLAN"}}"""));
        var ex = Assert.Throws<FlannelConfigurationException>(() =>
            BackendGuard.EnsureUnchanged(BackendType.Vxlan, NetworkConfig.Parse("""{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}}""")));
        Assert.Equal("Backend.Type", ex.Field);
        Assert.Equal("host-gw", ex.Value);
        Assert.Contains("running backend \"vxlan\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("keeps running", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NodeWithAnotherRecordedBackendNeedsAMigration()
    {
        var lease = new Lease { Subnet = IPNetwork.Parse("10.1.2.0/24"), Attributes = new LeaseAttributes { PublicIP = IPAddress.Loopback, BackendType = "vxlan" } };
        BackendGuard.EnsureNodeCanStart(BackendType.Vxlan, lease, null, allowBackendChange: false);
        var ex = Assert.Throws<FlannelConfigurationException>(() => BackendGuard.EnsureNodeCanStart(BackendType.HostGw, lease, null, false));
        Assert.Contains("ran backend \"vxlan\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("flanneld cleanup", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AllowBackendChange", ex.Message, StringComparison.Ordinal);
        BackendGuard.EnsureNodeCanStart(BackendType.HostGw, lease, null, allowBackendChange: true);

        var env = new SubnetEnvironment { Mtu = 1450, BackendType = BackendType.Vxlan };
        Assert.Throws<FlannelConfigurationException>(() => BackendGuard.EnsureNodeCanStart(BackendType.Udp, null, env, false));
        // Nothing recorded (flannel's udp/alloc write no type, flannel's subnet.env has none): allowed.
        BackendGuard.EnsureNodeCanStart(BackendType.Vxlan, lease with { Attributes = new LeaseAttributes() }, new SubnetEnvironment { Mtu = 1500 }, false);
    }

    [Fact]
    public async Task NodeCheckLooksUpTheLeaseByPublicIP()
    {
        using var registry = new InMemoryLeaseRegistry(NetworkConfig.Parse("""{"Network":"10.1.0.0/16"}"""));
        var manager = new LeaseManager(registry);
        var ip = IPAddress.Parse("198.18.0.9");
        await manager.AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = ip, BackendType = "host-gw" }), Ct);
        await BackendGuard.EnsureNodeCanStartAsync(manager, ip, BackendType.HostGw, null, false, Ct);
        await BackendGuard.EnsureNodeCanStartAsync(manager, IPAddress.Parse("198.18.0.10"), BackendType.Vxlan, null, false, Ct);
        await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await BackendGuard.EnsureNodeCanStartAsync(manager, ip, BackendType.Vxlan, null, false, Ct));
    }

    [Fact]
    public async Task AllocBackendAcquiresALeaseWithoutTypeAndProgramsNothing()
    {
        var config = NetworkConfig.Parse("""{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}""");
        using var registry = new InMemoryLeaseRegistry(config);
        var manager = new LeaseManager(registry);
        var iface = new ExternalInterface { Name = "eth0", Index = 2, Mtu = 9001, Address = IPAddress.Parse("198.18.0.5") };
        var previous = IPNetwork.Parse("10.1.42.0/24");
        var backend = new BackendRegistry([new AllocBackendFactory()]).CreateBackend(config, new BackendContext { SubnetManager = manager, Interface = iface, PreviousSubnet = previous });
        await using var network = await backend.RegisterNetworkAsync(await manager.GetNetworkConfigAsync(Ct), Ct);
        Assert.Equal(9001, network.Mtu);
        Assert.Equal(previous, network.Lease.Subnet);
        var stored = Assert.Single((await registry.ListAsync(Ct)).Leases);
        Assert.Equal("""{"PublicIP":"198.18.0.5","PublicIPv6":null}""", stored.Attributes.ToJson());

        using var stop = new CancellationTokenSource();
        var run = network.RunAsync(stop.Token);
        await Task.Delay(50, Ct);
        Assert.False(run.IsCompleted);
        await stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(run.IsCompletedSuccessfully);
        await network.TeardownAsync(Ct);
    }

    [Fact]
    public async Task DependencyInjectionComposesTheCore()
    {
        var services = new ServiceCollection();
        services.AddFlannel().AddAllocBackend().AddAllocBackend().AddInMemoryLeaseStore(NetworkConfig.Parse("""{"Network":"10.1.0.0/16"}""")).AddLeaseManager();
        services.AddFlannel().AddBackend<AllocBackendFactory>();
        await using var sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        var registry = sp.GetRequiredService<BackendRegistry>();
        Assert.Equal([BackendType.Alloc], registry.Types);
        var manager = sp.GetRequiredService<ISubnetManager>();
        Assert.IsType<LeaseManager>(manager);
        Assert.Same(sp.GetRequiredService<InMemoryLeaseRegistry>(), ((LeaseManager)manager).Registry);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = IPAddress.Loopback }), Ct);
        Assert.NotNull(lease.Subnet);
    }
}
