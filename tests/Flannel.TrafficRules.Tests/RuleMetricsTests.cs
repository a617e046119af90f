using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>
/// The rule instruments (<c>flannel.rules.*</c>, read through a MeterListener) follow what the real tools find in a
/// private namespace: failures while the applying tool fails (a shim in front of it), one repair per family when the
/// resync installs what the failed ensure could not, none while everything is in place, and one for exactly the family
/// whose rules were removed behind our back.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class RuleMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedTheory]
    [InlineData(TrafficRuleEngine.Iptables)]
    [InlineData(TrafficRuleEngine.Nftables)]
    public async Task Resyncs_repairs_and_failures_are_counted_per_engine_and_family(TrafficRuleEngine engine)
    {
        using var ns = TestNamespace.Create("rulemet");
        using var probe = new MetricsProbe();
        using var shim = new FailingToolShim();
        var options = shim.Apply(Oracle.Options(ns, engine), engine) with { MeterFactory = probe };
        ITrafficManager m = TrafficManager.Create(options);
        var name = engine == TrafficRuleEngine.Iptables ? "iptables" : "nftables";
        double Sum(string what, string family) => probe.Sum("flannel.rules." + what, ("engine", name), ("family", family));

        // Both families' masquerade and forward ensures fail: four failures, two per family.
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct));
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.EnsureForwardRulesAsync(Oracle.Dual, Ct));
        Assert.Equal(2, Sum("failures", "ipv4"));
        Assert.Equal(2, Sum("failures", "ipv6"));

        // A resync while the tool still fails: one more failure per family, no completed check.
        await Assert.ThrowsAsync<TrafficRuleException>(async () => await m.ResyncAsync(Ct));
        Assert.Equal(3, Sum("failures", "ipv4"));
        Assert.Equal(3, Sum("failures", "ipv6"));
        Assert.Equal(0, Sum("resyncs", "ipv4"));

        // The tool works again: one resync installs everything, one repair per family.
        shim.Heal();
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(1, Sum("repairs", "ipv4"));
        Assert.Equal(1, Sum("repairs", "ipv6"));
        Assert.False(await m.ResyncAsync(Ct));
        Assert.Equal(2, Sum("resyncs", "ipv4"));
        Assert.Equal(2, Sum("resyncs", "ipv6"));
        Assert.Equal(1, Sum("repairs", "ipv4"));

        // The IPv6 rules removed behind our back: the next resync restores them and counts a repair for IPv6 only.
        if (engine == TrafficRuleEngine.Iptables)
        {
            Oracle.Run(ns, "ip6tables", "-t", "nat", "-F", TrafficRuleOptions.DefaultMasqueradeChain);
        }
        else
        {
            Oracle.Nft(ns, $"delete table ip6 {TrafficRuleOptions.DefaultNftablesIPv6Table}\n");
        }

        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(2, Sum("repairs", "ipv6"));
        Assert.Equal(1, Sum("repairs", "ipv4"));
        Assert.Equal(3, Sum("resyncs", "ipv4"));
        Assert.Equal(3, Sum("failures", "ipv4"));
        Assert.Equal(3, Sum("failures", "ipv6"));
        await m.TeardownAsync(Ct);
    }
}
