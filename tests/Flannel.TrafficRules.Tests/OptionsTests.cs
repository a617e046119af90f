using System.Net;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>Options and argument validation, and the engine factory (no tools run).</summary>
public class OptionsTests
{
    [Fact]
    public void DefaultsAreFlanneldsNames()
    {
        var o = new TrafficRuleOptions();
        Assert.Equal(TrafficRuleEngine.Iptables, o.Engine);
        Assert.Equal("FLANNEL-POSTRTG", o.MasqueradeChain);
        Assert.Equal("FLANNEL-FWD", o.ForwardChain);
        Assert.Equal("flannel-ipv4", o.NftablesIPv4Table);
        Assert.Equal("flannel-ipv6", o.NftablesIPv6Table);
        Assert.Equal(TimeSpan.FromSeconds(5), o.ResyncPeriod);
        Assert.True(o.FullyRandom);
        Assert.True(o.ForwardRules);
        Assert.Null(o.NetworkNamespacePath);
    }

    public static TheoryData<TrafficRuleOptions, string> BadOptions => new()
    {
        { new TrafficRuleOptions { MasqueradeChain = "" }, "MasqueradeChain" },
        { new TrafficRuleOptions { MasqueradeChain = "HAS SPACE" }, "MasqueradeChain" },
        { new TrafficRuleOptions { MasqueradeChain = "POSTROUTING" }, "MasqueradeChain" },
        { new TrafficRuleOptions { ForwardChain = "-F" }, "ForwardChain" },
        { new TrafficRuleOptions { ForwardChain = new string('X', 29) }, "ForwardChain" },
        { new TrafficRuleOptions { NftablesIPv4Table = "nat" }, "NftablesIPv4Table" },
        { new TrafficRuleOptions { NftablesIPv6Table = "bad;name" }, "NftablesIPv6Table" },
        { new TrafficRuleOptions { ResyncPeriod = TimeSpan.Zero }, "ResyncPeriod" },
        { new TrafficRuleOptions { CommandTimeout = TimeSpan.FromSeconds(-1) }, "CommandTimeout" },
        { new TrafficRuleOptions { XtablesLockWait = TimeSpan.Zero }, "XtablesLockWait" },
        { new TrafficRuleOptions { NftPath = " " }, "NftPath" },
        { new TrafficRuleOptions { NetworkNamespacePath = "" }, "NetworkNamespacePath" },
        { new TrafficRuleOptions { Engine = (TrafficRuleEngine)7 }, "Engine" },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsNameTheField(TrafficRuleOptions options, string field)
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => new IptablesTrafficManager(options));
        Assert.Equal(field, ex.Field);
        Assert.StartsWith(field + ":", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FactoryPicksTheEngine()
    {
        Assert.IsType<IptablesTrafficManager>(TrafficManager.Create(new TrafficRuleOptions()));
        Assert.IsType<NftablesTrafficManager>(TrafficManager.Create(new TrafficRuleOptions { Engine = TrafficRuleEngine.Nftables }));
        Assert.IsType<NoTrafficManager>(TrafficManager.Create(new TrafficRuleOptions { Engine = TrafficRuleEngine.None }));
        Assert.Throws<FlannelConfigurationException>(() => TrafficManager.Create(new TrafficRuleOptions { MasqueradeChain = "INPUT", Engine = TrafficRuleEngine.None }));
    }

    public static TheoryData<TrafficNetworks, string> BadNetworks => new()
    {
        { new TrafficNetworks { Network = IPNetwork.Parse("fd00::/8"), Subnet = IPNetwork.Parse("fd00::/64") }, "Network fd00::/8 must be an IPv4 network" },
        { new TrafficNetworks { IPv6Network = IPNetwork.Parse("10.0.0.0/8"), IPv6Subnet = IPNetwork.Parse("10.1.0.0/16") }, "IPv6Network 10.0.0.0/8 must be an IPv6 network" },
        { new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, "Subnet is required when Network (10.244.0.0/16) is set" },
        { new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16"), Subnet = IPNetwork.Parse("10.9.1.0/24") }, "Subnet 10.9.1.0/24 is not inside Network 10.244.0.0/16" },
        { new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16"), Subnet = IPNetwork.Parse("10.0.0.0/8") }, "Subnet 10.0.0.0/8 is not inside Network 10.244.0.0/16" },
    };

    [Theory]
    [MemberData(nameof(BadNetworks))]
    public async Task BadNetworksAreRejectedBeforeAnyToolRuns(TrafficNetworks networks, string message)
    {
        // Nothing can run: nsenter and the namespace point nowhere (a tool run would fail differently).
        var m = new IptablesTrafficManager(Unrunnable);
        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await m.EnsureMasqueradeRulesAsync(networks, null, TestContext.Current.CancellationToken));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal("current", ex.ParamName);
    }

    [Fact]
    public async Task ForwardRulesNeedNoSubnet()
    {
        var m = new NoTrafficManager(new TrafficRuleOptions { Engine = TrafficRuleEngine.None });
        await m.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<ArgumentException>(async () => await m.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("fd00::/8") }, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task NoTrafficManagerDoesNothingAndItsLoopEndsOnCancel()
    {
        var m = new NoTrafficManager(Unrunnable with { Engine = TrafficRuleEngine.None });
        var ct = TestContext.Current.CancellationToken;
        await m.InitializeAsync(ct);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, ct);
        Assert.False(await m.ResyncAsync(ct));
        await m.TeardownAsync(ct);
        using var stop = new CancellationTokenSource();
        var loop = m.RunResyncAsync(stop.Token);
        Assert.False(loop.IsCompleted);
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AMissingToolIsReportedByName()
    {
        var m = new IptablesTrafficManager(Unrunnable);
        var ex = await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, TestContext.Current.CancellationToken));
        Assert.Contains("cannot run '/nonexistent/nsenter'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("TrafficRuleOptions", ex.Message, StringComparison.Ordinal);
        Assert.Equal("/nonexistent/nsenter --net=/nonexistent/netns iptables-save", ex.Command);
        Assert.Null(ex.ExitCode);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task AMissingNamespaceIsReportedWithNsentersError()
    {
        // nsenter itself runs, but cannot enter the namespace: no tool ever starts.
        var m = new NftablesTrafficManager(new TrafficRuleOptions { Engine = TrafficRuleEngine.Nftables, NetworkNamespacePath = "/nonexistent/netns" });
        var ex = await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureForwardRulesAsync(new TrafficNetworks { Network = IPNetwork.Parse("10.244.0.0/16") }, TestContext.Current.CancellationToken));
        Assert.Contains("/nonexistent/netns", ex.StandardError, StringComparison.Ordinal);
        Assert.NotNull(ex.ExitCode);
        Assert.NotEqual(0, ex.ExitCode);
    }

    /// <summary>Options under which no tool can start (so a unit test can never touch this machine's firewall).</summary>
    private static TrafficRuleOptions Unrunnable => new() { NsenterPath = "/nonexistent/nsenter", NetworkNamespacePath = "/nonexistent/netns" };
}
