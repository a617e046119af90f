using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Node.Tests;

public sealed class InterfaceResolverTests
{
    private static readonly NetworkConfig V4 = new() { Network = IPNetwork.Parse("10.244.0.0/16") };

    /// <summary>Two veth pairs: fln-a (198.18.1.1/24, default route) and fln-b (198.18.2.1/24, 198.18.2.7 secondary).</summary>
    private static TestNamespace Host()
    {
        var ns = TestNamespace.Create("iface");
        ns.Ip("link", "add", "fln-a", "type", "veth", "peer", "name", "fln-ap");
        ns.Ip("link", "add", "fln-b", "mtu", "1400", "type", "veth", "peer", "name", "fln-bp");
        foreach (var d in new[] { "fln-a", "fln-ap", "fln-b", "fln-bp" })
        {
            ns.Ip("link", "set", d, "up");
        }

        ns.Ip("addr", "add", "198.18.1.1/24", "dev", "fln-a");
        ns.Ip("addr", "add", "198.18.2.1/24", "dev", "fln-b");
        ns.Ip("addr", "add", "198.18.2.7/24", "dev", "fln-b");
        ns.Ip("route", "add", "default", "via", "198.18.1.254", "dev", "fln-a");
        return ns;
    }

    [PrivilegedFact]
    public async Task DefaultRouteInterfaceWhenNothingIsGiven()
    {
        using var ns = Host();
        var iface = await new NetlinkInterfaceResolver(ns.Path).ResolveAsync(new InterfaceSelection(), null, null, V4, TestContext.Current.CancellationToken);
        Assert.Equal("fln-a", iface.Name);
        Assert.Equal(IPAddress.Parse("198.18.1.1"), iface.Address);
        Assert.Equal(IPAddress.Parse("198.18.1.1"), iface.PublicIP);
        Assert.Equal(1500, iface.Mtu);
    }

    [PrivilegedFact]
    public async Task ByNameByAddressByRegexAndByCanReach()
    {
        using var ns = Host();
        var r = new NetlinkInterfaceResolver(ns.Path);
        var ct = TestContext.Current.CancellationToken;

        var byName = await r.ResolveAsync(new InterfaceSelection { Interfaces = ["nope", "fln-b"] }, null, null, V4, ct);
        Assert.Equal(("fln-b", IPAddress.Parse("198.18.2.1"), 1400), (byName.Name, byName.Address, byName.Mtu));

        var byIp = await r.ResolveAsync(new InterfaceSelection { Interfaces = ["198.18.2.7"] }, null, null, V4, ct);
        Assert.Equal(("fln-b", IPAddress.Parse("198.18.2.7")), (byIp.Name, byIp.Address));

        var byAddressRegex = await r.ResolveAsync(new InterfaceSelection { Regexes = [@"^198\.18\.2\.7$"] }, null, null, V4, ct);
        Assert.Equal(("fln-b", IPAddress.Parse("198.18.2.7")), (byAddressRegex.Name, byAddressRegex.Address));

        var byNameRegex = await r.ResolveAsync(new InterfaceSelection { Regexes = ["^fln-b$"] }, null, null, V4, ct);
        Assert.Equal("fln-b", byNameRegex.Name);

        var reach = await r.ResolveAsync(new InterfaceSelection { CanReach = IPAddress.Parse("198.18.2.99") }, IPAddress.Parse("203.0.113.5"), null, V4, ct);
        Assert.Equal("fln-b", reach.Name);
        Assert.Equal(IPAddress.Parse("203.0.113.5"), reach.PublicIP);
    }

    [PrivilegedFact]
    public async Task AnInterfaceNamedLikeAnIPv4ShorthandIsFoundByName()
    {
        // "--iface 10" names the interface "10": Go's net.ParseIP does not read it as the address 0.0.0.10.
        using var ns = Host();
        ns.Ip("link", "add", "10", "type", "veth", "peer", "name", "fln-10p");
        ns.Ip("addr", "add", "198.18.3.1/24", "dev", "10");
        ns.Ip("link", "set", "10", "up");
        var iface = await new NetlinkInterfaceResolver(ns.Path).ResolveAsync(new InterfaceSelection { Interfaces = ["10"] }, null, null, V4, TestContext.Current.CancellationToken);
        Assert.Equal(("10", IPAddress.Parse("198.18.3.1")), (iface.Name, iface.Address));
    }

    [PrivilegedFact]
    public async Task PublicIPAloneSelectsTheInterfaceOwningIt()
    {
        using var ns = Host();
        var r = new NetlinkInterfaceResolver(ns.Path);
        var iface = await r.ResolveAsync(new InterfaceSelection(), IPAddress.Parse("198.18.2.7"), null, V4, TestContext.Current.CancellationToken);
        Assert.Equal(("fln-b", IPAddress.Parse("198.18.2.7"), IPAddress.Parse("198.18.2.7")), (iface.Name, iface.Address, iface.PublicIP));

        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await r.ResolveAsync(new InterfaceSelection(), IPAddress.Parse("203.0.113.5"), null, V4, TestContext.Current.CancellationToken));
        Assert.Contains("203.0.113.5", ex.Message, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public async Task NoMatchIsAClearConfigurationError()
    {
        using var ns = Host();
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () =>
            await new NetlinkInterfaceResolver(ns.Path).ResolveAsync(new InterfaceSelection { Interfaces = ["eth9"], Regexes = ["^wlan"] }, null, null, V4, TestContext.Current.CancellationToken));
        Assert.Equal("--iface", ex.Field);
        Assert.Contains("eth9", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no interface matches", ex.Message, StringComparison.Ordinal);

        using var bare = TestNamespace.Create("iface");
        var noDefault = await Assert.ThrowsAsync<FlannelConfigurationException>(async () =>
            await new NetlinkInterfaceResolver(bare.Path).ResolveAsync(new InterfaceSelection(), null, null, V4, TestContext.Current.CancellationToken));
        Assert.Contains("no IPv4 default route", noDefault.Message, StringComparison.Ordinal);
    }
}
