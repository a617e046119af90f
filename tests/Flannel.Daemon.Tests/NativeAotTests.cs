using System.Text;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Daemon.Tests;

/// <summary>
/// The daemon as it ships: published with Native AOT (every backend linked in), then run as a process. The other
/// daemon tests run the JIT build; this one proves the native binary builds without trim/AOT warnings, carries its
/// memory settings (compiled-in gen0 budget, RELR-packed relocations), programs a store's peers and trims its heap once
/// start-up is over.
/// </summary>
public sealed class NativeAotTests : IDisposable
{
    private const int Peers = 200;
    private readonly string _work = Directory.CreateTempSubdirectory("fln-daemon-aot-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [PrivilegedFact]
    public async Task Native_AOT_publish_has_no_warnings_and_the_binary_programs_its_peers()
    {
        var root = RepositoryRoot();
        var output = Path.Combine(_work, "publish");
        var (code, stdout, stderr) = Shell.Run(
            "dotnet",
            ["publish", Path.Combine(root, "samples", "Flanneld", "Flanneld.csproj"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo", "-clp:NoSummary"],
            TimeSpan.FromMinutes(15));
        var log = stdout + stderr;
        Assert.True(code == 0, "dotnet publish failed:\n" + log);
        var warnings = log.Split('\n').Where(l => l.Contains(": warning ", StringComparison.Ordinal)).Distinct().ToList();
        Assert.True(warnings.Count == 0, "the AOT publish warns:\n" + string.Join('\n', warnings));

        var binary = Path.Combine(output, "flanneld");
        var image = File.ReadAllBytes(binary);
        var options = RuntimeOptions(image);
        Assert.Equal("200000", options.GetValueOrDefault("GCgen0size")); // hex: 2 MiB
        Assert.Equal("100000", options.GetValueOrDefault("GCGen1MaxBudget")); // hex: 1 MiB
        Assert.True(Contains(image, ".relr.dyn"u8), "the binary has no RELR relocation section");

        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var conf = Path.Combine(_work, "net-conf.json");
        File.WriteAllText(conf, """{"Network": "10.128.0.0/9", "Backend": {"Type": "vxlan"}}""");
        var store = Path.Combine(_work, "leases.db");
        await ScaleTests.FillAsync(store, conf, Peers);
        var node = new DaemonNode(lab.Hosts[0], _work, store, conf);
        using var p = node.StartBinary(binary, "--v=1");
        await p.WaitReadyAsync(TimeSpan.FromSeconds(60));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int routes;
        while ((routes = VxlanRoutes(node)) < Peers && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(Peers, routes);

        // Two seconds after Ready the daemon compacts the start-up garbage away (StartupTrim) and says so at debug.
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!p.Output.Contains("Start-up done: heap compacted", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Contains("Start-up done: heap compacted", p.Output, StringComparison.Ordinal);
        Assert.StartsWith("FLANNEL_NETWORK=10.128.0.0/9", node.SubnetEnvLines()[0], StringComparison.Ordinal);
        var metrics = (await p.GetAsync("/metrics")).Body;
        Assert.Contains("flannel_node_ready 1", metrics, StringComparison.Ordinal);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes_total", metrics, StringComparison.Ordinal);
        var status = File.ReadAllText($"/proc/{p.Pid}/status");
        TestContext.Current.TestOutputHelper?.WriteLine($"AOT flanneld with {Peers} peers: {string.Join(", ", status.Split('\n').Where(l => l.StartsWith("VmHWM", StringComparison.Ordinal) || l.StartsWith("VmRSS", StringComparison.Ordinal)).Select(l => l.Replace("\t", " ", StringComparison.Ordinal)))}");
        p.Terminate();
        Assert.Equal(0, p.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    private static int VxlanRoutes(DaemonNode node) =>
        node.RoutesText().Split('\n').Count(l => l.StartsWith("10.", StringComparison.Ordinal) && l.Contains("dev flannel.1", StringComparison.Ordinal));

    private static bool Contains(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    /// <summary>
    /// The runtime options ILC compiled in (--runtimeopt): a block of NUL-terminated names followed by as many
    /// NUL-terminated values, found by the first name the project sets.
    /// </summary>
    private static Dictionary<string, string> RuntimeOptions(byte[] image)
    {
        var start = image.AsSpan().IndexOf("\0GCgen0size\0"u8);
        Assert.True(start >= 0, "no compiled-in runtime options (GCgen0size) in the binary");
        var strings = new List<string>();
        var at = start + 1;
        while (image[at] != 0 && strings.Count < 64)
        {
            var end = Array.IndexOf(image, (byte)0, at);
            strings.Add(Encoding.ASCII.GetString(image, at, end - at));
            at = end + 1;
        }

        var half = strings.Count / 2;
        return strings.Take(half).Zip(strings.Skip(half)).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Flannel.Net.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root");
    }
}
