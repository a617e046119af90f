using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>
/// What both engines share: the wanted rules are recorded before they are applied, so an ensure that failed is
/// installed by the next resync, exactly. The failure is injected with a shim in front of the real tool (the applying
/// tool fails while a flag file exists); everything else runs the real tools in a private namespace.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class FailedEnsureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedTheory]
    [InlineData(TrafficRuleEngine.Iptables)]
    [InlineData(TrafficRuleEngine.Nftables)]
    public async Task AnEnsureThatFailedIsInstalledByTheNextResync(TrafficRuleEngine engine)
    {
        using var ns = TestNamespace.Create("ensfail");
        using var shim = new FailingToolShim();
        // iptables: every restore fails; nftables: every applied script fails (not the read-only --check probe).
        var options = shim.Apply(Oracle.Options(ns, engine), engine);
        ITrafficManager m = TrafficManager.Create(options);

        var ex = await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct));
        Assert.Contains("injected failure", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureForwardRulesAsync(Oracle.Dual, Ct));
        AssertInstalled(ns, engine, installed: false);

        // While the tool still fails, the resync fails too (and says why); once it works, one resync installs all.
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.ResyncAsync(Ct));
        shim.Heal();
        Assert.True(await m.ResyncAsync(Ct));
        AssertInstalled(ns, engine, installed: true);
        Assert.False(await m.ResyncAsync(Ct));
    }

    private static void AssertInstalled(TestNamespace ns, TrafficRuleEngine engine, bool installed)
    {
        if (engine == TrafficRuleEngine.Iptables)
        {
            Assert.Equal(installed ? Golden.Masq4 : [], Oracle.Rules(ns, "iptables-save", "nat"));
            Assert.Equal(installed ? Golden.Fwd4 : [], Oracle.Rules(ns, "iptables-save", "filter"));
            Assert.Equal(installed ? Golden.Masq6 : [], Oracle.Rules(ns, "ip6tables-save", "nat"));
            Assert.Equal(installed ? Golden.Fwd6 : [], Oracle.Rules(ns, "ip6tables-save", "filter"));
        }
        else
        {
            Assert.Equal(installed ? Golden.NftTable4 : null, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
            Assert.Equal(installed ? Golden.NftTable6 : null, Oracle.NftTable(ns, "ip6", "flannel-ipv6"));
        }
    }
}
