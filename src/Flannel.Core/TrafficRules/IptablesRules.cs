using System.Net;

namespace Flannel.TrafficRules;

/// <summary>
/// One chain of ours and the jump to it from a built-in chain: the unit that is checked, installed and removed.
/// Rule specs are in the exact form <c>iptables-save</c> prints them (without the <c>-A CHAIN</c> prefix), so they
/// serve as <c>iptables-restore</c> input and as the expected state at once.
/// </summary>
/// <param name="Table">The table (<c>nat</c> or <c>filter</c>).</param>
/// <param name="Hook">The built-in chain that jumps to ours (<c>POSTROUTING</c> or <c>FORWARD</c>).</param>
/// <param name="Chain">Our chain.</param>
/// <param name="JumpSpec">The spec of the jump rule in <paramref name="Hook"/>.</param>
/// <param name="Rules">The specs of the rules in <paramref name="Chain"/>, in order.</param>
internal sealed record IptablesChainBlock(string Table, string Hook, string Chain, string JumpSpec, IReadOnlyList<string> Rules)
{
    /// <summary>True when the chain holds exactly <see cref="Rules"/> and the hook jumps to it exactly once.</summary>
    public bool IsInPlace(IptablesSnapshot state) =>
        state.HasChain(Table, Chain)
        && state.Rules(Table, Chain).SequenceEqual(Rules, StringComparer.Ordinal)
        && state.Rules(Table, Hook).Count(r => string.Equals(r, JumpSpec, StringComparison.Ordinal)) == 1;

    /// <summary>All lines as <c>iptables-save</c> prints them (<c>-A CHAIN spec</c>): the jump, then our chain.</summary>
    public IEnumerable<string> SaveLines()
    {
        yield return $"-A {Hook} {JumpSpec}";
        foreach (var r in Rules)
        {
            yield return $"-A {Chain} {r}";
        }
    }
}

/// <summary>flannel's iptables rule text (flannel.md §5.5), generated exactly as <c>iptables-save</c> prints it.</summary>
internal static class IptablesRules
{
    /// <summary>The comment on every masquerade rule; other tools grep for it.</summary>
    public const string MasqueradeComment = "flanneld masq";

    /// <summary>The comment on every forward rule.</summary>
    public const string ForwardComment = "flanneld forward";

    /// <summary>kube-proxy's masquerade mark: packets with this bit set are NATed by kube-proxy already.</summary>
    public const string KubeProxyMark = "0x4000/0x4000";

    /// <summary>The masquerade block (nat table): the POSTROUTING jump and the 6 rules of the chain.</summary>
    /// <param name="chain">Our nat chain.</param>
    /// <param name="network">N, the flannel network.</param>
    /// <param name="subnet">P, this node's lease subnet.</param>
    /// <param name="randomFully">Append <c>--random-fully</c> to the MASQUERADE rules.</param>
    public static IptablesChainBlock Masquerade(string chain, IPNetwork network, IPNetwork subnet, bool randomFully)
    {
        var c = $"-m comment --comment \"{MasqueradeComment}\"";
        var n = network.ToString();
        var p = subnet.ToString();
        var m = network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "224.0.0.0/4" : "ff00::/8";
        var masq = randomFully ? "-j MASQUERADE --random-fully" : "-j MASQUERADE";
        return new IptablesChainBlock(
            "nat",
            "POSTROUTING",
            chain,
            $"{c} -j {chain}",
            [
                $"-m mark --mark {KubeProxyMark} {c} -j RETURN",
                $"-s {p} -d {n} {c} -j RETURN",
                $"-s {n} -d {p} {c} -j RETURN",
                $"! -s {n} -d {p} {c} -j RETURN",
                $"-s {n} ! -d {m} {c} {masq}",
                $"! -s {n} -d {n} {c} {masq}",
            ]);
    }

    /// <summary>The forward block (filter table): the FORWARD jump and the 2 accept rules of the chain.</summary>
    /// <param name="chain">Our filter chain.</param>
    /// <param name="network">N, the flannel network.</param>
    public static IptablesChainBlock Forward(string chain, IPNetwork network)
    {
        var c = $"-m comment --comment \"{ForwardComment}\"";
        var n = network.ToString();
        return new IptablesChainBlock(
            "filter",
            "FORWARD",
            chain,
            $"{c} -j {chain}",
            [
                $"-s {n} {c} -j ACCEPT",
                $"-d {n} {c} -j ACCEPT",
            ]);
    }
}
