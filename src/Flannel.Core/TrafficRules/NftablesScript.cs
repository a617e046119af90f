using System.Net;
using System.Text;

namespace Flannel.TrafficRules;

/// <summary>
/// flannel's nftables rules (flannel.md §5.5, nftables mode) as <c>nft -f</c> input, in this instance's tables.
/// Rule text is the input form; <c>nft list</c> prints some of it differently (for example the mark as 0x00004000).
/// </summary>
internal static class NftablesScript
{
    /// <summary>The chain that holds the masquerade rules (nat, hook postrouting, priority srcnat).</summary>
    public const string MasqueradeChain = "postrtg";

    /// <summary>The chain that holds the forward rules (filter, hook forward, priority filter).</summary>
    public const string ForwardChain = "forward";

    /// <summary>The comment of the masquerade chain (flannel's).</summary>
    public const string MasqueradeChainComment = "chain to manage traffic masquerading by flannel";

    /// <summary>The comment of the forward chain (flannel's).</summary>
    public const string ForwardChainComment = "chain to accept flannel traffic";

    /// <summary>The nft family keyword: <c>ip</c> or <c>ip6</c> (also the address-match keyword).</summary>
    public static string Family(IpFamily family) => family == IpFamily.V4 ? "ip" : "ip6";

    /// <summary>The comment of a table (flannel's: "rules for NAME").</summary>
    public static string TableComment(string table) => "rules for " + table;

    /// <summary>
    /// The 6 masquerade rules. The kube-proxy mark is tested with a mask (<c>meta mark &amp; 0x4000 == 0x4000</c>),
    /// like iptables' <c>--mark 0x4000/0x4000</c>; flannel tests equality (<c>meta mark 0x4000</c>), which misses
    /// packets that carry other mark bits too. Rule 4 is flannel's nft rule (<c>saddr != P daddr N</c>), not the
    /// iptables one (<c>! -s N -d P</c>).
    /// </summary>
    public static IReadOnlyList<string> MasqueradeRules(IpFamily family, IPNetwork network, IPNetwork subnet, bool fullyRandom)
    {
        var f = Family(family);
        var n = network.ToString();
        var p = subnet.ToString();
        var m = family == IpFamily.V4 ? "224.0.0.0/4" : "ff00::/8";
        var masq = fullyRandom ? "masquerade fully-random" : "masquerade";
        return
        [
            "meta mark & 0x4000 == 0x4000 return",
            $"{f} saddr {p} {f} daddr {n} return",
            $"{f} saddr {n} {f} daddr {p} return",
            $"{f} saddr != {p} {f} daddr {n} return",
            $"{f} saddr {n} {f} daddr != {m} {masq}",
            $"{f} saddr != {n} {f} daddr {n} {masq}",
        ];
    }

    /// <summary>The 2 forward rules.</summary>
    public static IReadOnlyList<string> ForwardRules(IpFamily family, IPNetwork network)
    {
        var f = Family(family);
        var n = network.ToString();
        return [$"{f} saddr {n} accept", $"{f} daddr {n} accept"];
    }

    /// <summary>
    /// Creates the table (if absent) and one chain (if absent), flushes the chain and adds the rules: one part of the
    /// table, the other chain untouched. Applied as one atomic transaction.
    /// </summary>
    public static string EnsureChain(IpFamily family, string table, string chain, IReadOnlyList<string> rules)
    {
        var f = Family(family);
        var sb = new StringBuilder();
        sb.Append($"add table {f} {table} {{ comment \"{TableComment(table)}\" ; }}\n");
        sb.Append($"add chain {f} {table} {chain} {{ {ChainHead(chain)} ; comment \"{ChainComment(chain)}\" ; }}\n");
        sb.Append($"flush chain {f} {table} {chain}\n");
        foreach (var r in rules)
        {
            sb.Append($"add rule {f} {table} {chain} {r}\n");
        }

        return sb.ToString();
    }

    /// <summary>
    /// Replaces the whole table with exactly the given chains (atomically: create, delete, define). With no chains the
    /// table is just deleted.
    /// </summary>
    public static string Rebuild(IpFamily family, string table, IReadOnlyList<string>? masqueradeRules, IReadOnlyList<string>? forwardRules)
    {
        var f = Family(family);
        var sb = new StringBuilder();
        sb.Append(DeleteTable(family, table));
        if (masqueradeRules is null && forwardRules is null)
        {
            return sb.ToString();
        }

        sb.Append($"table {f} {table} {{\n");
        sb.Append($"\tcomment \"{TableComment(table)}\"\n");
        AppendChain(sb, MasqueradeChain, masqueradeRules);
        AppendChain(sb, ForwardChain, forwardRules);
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>Deletes a table whether or not it exists (the create-then-delete idiom that works on every nft version).</summary>
    public static string DeleteTable(IpFamily family, string table)
    {
        var f = Family(family);
        return $"add table {f} {table}\ndelete table {f} {table}\n";
    }

    /// <summary>Deletes one chain of ours whether or not it exists.</summary>
    public static string DeleteChain(IpFamily family, string table, string chain)
    {
        var f = Family(family);
        return $"add table {f} {table}\nadd chain {f} {table} {chain} {{ {ChainHead(chain)} ; }}\ndelete chain {f} {table} {chain}\n";
    }

    /// <summary>A throw-away table used only with <c>nft --check</c>, to learn whether <c>masquerade fully-random</c> is accepted.</summary>
    public static string FullyRandomProbe(string table) =>
        $"add table ip {table}\nadd chain ip {table} p {{ type nat hook postrouting priority srcnat ; }}\nadd rule ip {table} p masquerade fully-random\n";

    private static string ChainHead(string chain) => chain == MasqueradeChain
        ? "type nat hook postrouting priority srcnat"
        : "type filter hook forward priority filter";

    private static string ChainComment(string chain) => chain == MasqueradeChain ? MasqueradeChainComment : ForwardChainComment;

    private static void AppendChain(StringBuilder sb, string chain, IReadOnlyList<string>? rules)
    {
        if (rules is null)
        {
            return;
        }

        sb.Append($"\tchain {chain} {{\n");
        sb.Append($"\t\t{ChainHead(chain)}; policy accept;\n");
        sb.Append($"\t\tcomment \"{ChainComment(chain)}\"\n");
        foreach (var r in rules)
        {
            sb.Append("\t\t").Append(r).Append('\n');
        }

        sb.Append("\t}\n");
    }
}
