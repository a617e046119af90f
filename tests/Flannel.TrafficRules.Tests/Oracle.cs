using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>Reads the rule state of a test namespace with the tools themselves (<c>ip netns exec</c>), independent of the code under test.</summary>
internal static class Oracle
{
    public static readonly TrafficNetworks Dual = new()
    {
        Network = IPNetwork.Parse(Golden.N4),
        Subnet = IPNetwork.Parse(Golden.P4),
        IPv6Network = IPNetwork.Parse(Golden.N6),
        IPv6Subnet = IPNetwork.Parse(Golden.P6),
    };

    /// <summary>The <c>-A</c> lines of one table (<c>iptables-save -t TABLE</c> or <c>ip6tables-save</c>).</summary>
    public static string[] Rules(TestNamespace ns, string saveTool, string table)
    {
        var (code, stdout, stderr) = ns.Exec(saveTool, ["-t", table]);
        Assert.True(code == 0, $"{saveTool} -t {table} failed: {stderr}");
        return stdout.Split('\n').Select(l => l.TrimEnd()).Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToArray();
    }

    /// <summary>The chain declarations of one table.</summary>
    public static string[] Chains(TestNamespace ns, string saveTool, string table)
    {
        var (code, stdout, stderr) = ns.Exec(saveTool, ["-t", table]);
        Assert.True(code == 0, $"{saveTool} -t {table} failed: {stderr}");
        return stdout.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0]).ToArray();
    }

    /// <summary>Everything iptables-save and ip6tables-save print (all tables).</summary>
    public static string AllIptables(TestNamespace ns) =>
        ns.Exec("iptables-save", []).Stdout + ns.Exec("ip6tables-save", []).Stdout;

    /// <summary>The trimmed, non-empty lines of <c>nft list table FAMILY NAME</c>, or null when the table does not exist.</summary>
    public static string[]? NftTable(TestNamespace ns, string family, string name)
    {
        var (code, stdout, _) = ns.Exec("nft", ["list", "table", family, name]);
        return code != 0 ? null : stdout.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
    }

    /// <summary>The lines of <c>nft list tables</c>.</summary>
    public static string[] NftTables(TestNamespace ns)
    {
        var (code, stdout, stderr) = ns.Exec("nft", ["list", "tables"]);
        Assert.True(code == 0, $"nft list tables failed: {stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Runs a tool in the namespace and fails the test when it fails.</summary>
    public static void Run(TestNamespace ns, string tool, params string[] args)
    {
        var (code, _, stderr) = ns.Exec(tool, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)} failed: {stderr}");
    }

    /// <summary>Runs nft with a script on standard input, inside the namespace (through a shell, as a test helper).</summary>
    public static void Nft(TestNamespace ns, string script)
    {
        var file = Path.Combine(Path.GetTempPath(), $"fln-{Guid.NewGuid():N}.nft");
        File.WriteAllText(file, script);
        try
        {
            Run(ns, "nft", "-f", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static TrafficRuleOptions Options(TestNamespace ns, TrafficRuleEngine engine) => new()
    {
        Engine = engine,
        NetworkNamespacePath = ns.Path,
    };
}
