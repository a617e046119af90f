using System.Diagnostics;
using System.Text.Json;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Lab.Tests;

/// <summary>
/// Runs the built <c>flanneld lab</c> as a process, as a user would: real namespaces, real daemons, real pings.
/// The tests of this class run one after another: the default lab's names are fixed (flab-*), the named labs
/// (fln-*) are unique per test.
/// </summary>
public sealed class LabTests : IDisposable
{
    private const string DefaultName = "flab";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "flab-test-" + Guid.NewGuid().ToString("N")[..8]);

    [PrivilegedTheory]
    [InlineData("vxlan")]
    [InlineData("host-gw")]
    [InlineData("udp")]
    [InlineData("alloc")]
    public async Task UpPingsEveryPodPairAndLeavesNothing(string backend)
    {
        var run = await RunLabAsync(["up", "--nodes", "3", "--backend", backend, "--json", "--pings", "3"]);
        Assert.True(run.ExitCode == 0, $"lab up exited {run.ExitCode}\n{run.Stderr}");
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Equal(backend, root.GetProperty("backend").GetString());
        var hosts = root.GetProperty("hosts").EnumerateArray().ToList();
        Assert.Equal(3, hosts.Count);
        var subnets = hosts.Select(h => h.GetProperty("subnet").GetString()).ToList();
        Assert.All(subnets, s => Assert.StartsWith("10.244.", s, StringComparison.Ordinal));
        Assert.Equal(3, subnets.Distinct().Count());
        Assert.All(hosts, h => Assert.True(h.GetProperty("mtu").GetInt32() > 1000));
        Assert.Equal(["198.18.0.1", "198.18.0.2", "198.18.0.3"], hosts.Select(h => h.GetProperty("publicIP").GetString()));

        var pings = root.GetProperty("pings").EnumerateArray().ToList();
        if (backend == "alloc")
        {
            // alloc only leases subnets: the lab checks leases and subnet.env, and pings nothing.
            Assert.False(root.GetProperty("pinged").GetBoolean());
            Assert.Empty(pings);
        }
        else
        {
            Assert.True(root.GetProperty("pinged").GetBoolean());
            Assert.Equal(6, pings.Count);
            Assert.All(pings, p =>
            {
                Assert.Equal(3, p.GetProperty("sent").GetInt32());
                Assert.Equal(3, p.GetProperty("received").GetInt32());
            });
            Assert.Equal(6, pings.Select(p => (p.GetProperty("from").GetString(), p.GetProperty("to").GetString())).Distinct().Count());
            // vxlan/host-gw: kernel routes to the 2 other subnets; udp: the forwarder's table (flannel_udp_peers on
            // /metrics) behind the flannel0 route.
            Assert.All(hosts, h => Assert.Equal(2, h.GetProperty("peers").GetInt32()));
        }

        AssertNothingLeft();
    }

    [PrivilegedFact]
    public async Task KeptLabRunsUntilDownRemovesIt()
    {
        var up = await RunLabAsync(["up", "--nodes", "2", "--backend", "vxlan", "--keep", "--json", "--pings", "2"]);
        Assert.True(up.ExitCode == 0, $"lab up --keep exited {up.ExitCode}\n{up.Stderr}");
        using var json = JsonDocument.Parse(up.Stdout);
        var pids = json.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("pid").GetInt32()).ToList();
        Assert.Equal(2, pids.Count);
        Assert.All(pids, pid => Assert.True(IsLabDaemon(pid), $"flanneld {pid} should still run after lab up --keep"));
        Assert.Contains("flab-h1", LabNamespaces());
        Assert.Contains("flab-p2", LabNamespaces());
        Assert.Contains("flab-ul", LabNamespaces());

        // The kept daemons still answer: /readyz on the loopback health port.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var port = json.RootElement.GetProperty("hosts")[0].GetProperty("healthPort").GetInt32();
        using (var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/readyz"), TestContext.Current.CancellationToken))
        {
            Assert.True(ready.IsSuccessStatusCode);
        }

        var down = await RunLabAsync(["down"]);
        Assert.True(down.ExitCode == 0, $"lab down exited {down.ExitCode}\n{down.Stderr}");
        Assert.Contains("deleted namespace flab-ul", down.Stderr, StringComparison.Ordinal);
        AssertNothingLeft();
        Assert.All(pids, pid => Assert.False(IsLabDaemon(pid)));
    }

    [PrivilegedFact]
    public async Task NextUpCleansLeftoversOfAKilledRun()
    {
        // Start a lab and kill the lab process (SIGKILL: no teardown) once its daemons are running.
        // A named lab: a second `up` of the same name must find and clean that lab's leftovers.
        const string name = "fln-k";
        // --pings 1000: the run is still pinging (for minutes) when it is killed.
        var psi = StartInfo(["up", "--name", name, "--nodes", "2", "--backend", "vxlan", "--pings", "1000"]);
        using (var lab = Process.Start(psi)!)
        {
            var pids = new List<int>();
            try
            {
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < TimeSpan.FromSeconds(60))
                {
                    pids = ReadStatePids(LabDirectory(name));
                    if (pids.Count == 2 && pids.All(pid => IsLabDaemon(pid, name)))
                    {
                        break;
                    }

                    await Task.Delay(50, TestContext.Current.CancellationToken);
                }

                Assert.Equal(2, pids.Count);

                // While that run is in flight, the lab is locked: another command on the same name is refused and
                // touches nothing.
                var busy = await RunLabAsync(["down", "--name", name]);
                Assert.True(busy.ExitCode == 1, $"lab down during lab up exited {busy.ExitCode}\n{busy.Stderr}");
                Assert.Contains("lab fln-k is in use", busy.Stderr, StringComparison.Ordinal);
                Assert.All(pids, pid => Assert.True(IsLabDaemon(pid, name), $"flanneld {pid} should survive the refused lab down"));
                Assert.False(lab.HasExited, "the first lab up should still be running");
            }
            finally
            {
                lab.Kill(entireProcessTree: false);
                await lab.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            }

            // The killed run left daemons and namespaces behind.
            Assert.All(pids, pid => Assert.True(IsLabDaemon(pid, name), $"flanneld {pid} should have outlived the killed lab"));
            Assert.Contains("fln-k-h1", LabNamespaces(name));

            var next = await RunLabAsync(["up", "--name", name, "--nodes", "2", "--backend", "vxlan", "--json", "--pings", "2"]);
            Assert.True(next.ExitCode == 0, $"lab up after a killed run exited {next.ExitCode}\n{next.Stderr}");
            Assert.Contains("deleted namespace fln-k-h1", next.Stderr, StringComparison.Ordinal);
            foreach (var pid in pids)
            {
                Assert.Contains($"flanneld {pid}", next.Stderr, StringComparison.Ordinal);
                Assert.False(IsLabDaemon(pid, name));
            }
        }

        AssertNothingLeft(name);
    }

    [Fact]
    public async Task HelpAndBadArgumentsAreAnsweredWithoutTouchingAnything()
    {
        var help = await RunLabAsync(["--help"]);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("flanneld lab up", help.Stderr, StringComparison.Ordinal);
        var bad = await RunLabAsync(["up", "--backend", "aws-vpc"]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--backend \"aws-vpc\"", bad.Stderr, StringComparison.Ordinal);
        var nodes = await RunLabAsync(["up", "--nodes", "1"]);
        Assert.Equal(2, nodes.ExitCode);
        Assert.Contains("--nodes \"1\"", nodes.Stderr, StringComparison.Ordinal);

        // Names: which flag, which value, why.
        var longName = await RunLabAsync(["up", "--name", "fln-toolong1"]);
        Assert.Equal(2, longName.ExitCode);
        Assert.Contains("--name \"fln-toolong1\": 12 characters, at most 11", longName.Stderr, StringComparison.Ordinal);
        Assert.Contains("IFNAMSIZ", longName.Stderr, StringComparison.Ordinal);
        var badChar = await RunLabAsync(["down", "--name", "fln/x"]);
        Assert.Equal(2, badChar.ExitCode);
        Assert.Contains("--name \"fln/x\": character '/' is not allowed", badChar.Stderr, StringComparison.Ordinal);
        var dash = await RunLabAsync(["up", "--name=-fln"]);
        Assert.Equal(2, dash.ExitCode);
        Assert.Contains("--name \"-fln\": must start and end with a letter or digit", dash.Stderr, StringComparison.Ordinal);

        // IPv6 only where the backend carries it.
        var udp6 = await RunLabAsync(["up", "--backend", "udp", "--ipv6"]);
        Assert.Equal(2, udp6.ExitCode);
        Assert.Contains("--ipv6 with --backend \"udp\": the udp backend carries IPv4 only", udp6.Stderr, StringComparison.Ordinal);
        Assert.Empty(LabNamespaces());
    }

    [PrivilegedFact]
    public async Task TwoNamedLabsRunSideBySideAndDownRemovesOnlyOne()
    {
        var a = await RunLabAsync(["up", "--name", "fln-a", "--nodes", "2", "--backend", "vxlan", "--keep", "--json", "--pings", "2"]);
        Assert.True(a.ExitCode == 0, $"lab up --name fln-a exited {a.ExitCode}\n{a.Stderr}");
        var b = await RunLabAsync(["up", "--name", "fln-b", "--nodes", "2", "--backend", "udp", "--keep", "--json", "--pings", "2"]);
        Assert.True(b.ExitCode == 0, $"lab up --name fln-b exited {b.ExitCode}\n{b.Stderr}");
        using var ja = JsonDocument.Parse(a.Stdout);
        using var jb = JsonDocument.Parse(b.Stdout);
        Assert.Equal("fln-a", ja.RootElement.GetProperty("name").GetString());
        Assert.Equal("fln-b", jb.RootElement.GetProperty("name").GetString());
        Assert.Equal(["fln-a-h1", "fln-a-h2"], ja.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("host").GetString()));
        Assert.All(jb.RootElement.GetProperty("hosts").EnumerateArray(), h => Assert.Equal(1, h.GetProperty("peers").GetInt32()));
        var pidsA = Pids(ja);
        var pidsB = Pids(jb);

        // Building lab b (which first cleans b's leftovers) left lab a alone.
        Assert.All(pidsA, pid => Assert.True(IsLabDaemon(pid, "fln-a"), $"fln-a's flanneld {pid} should survive lab up --name fln-b"));
        Assert.Equal(["fln-a-h1", "fln-a-h2", "fln-a-p1", "fln-a-p2", "fln-a-ul"], LabNamespaces("fln-a"));
        Assert.Equal(["fln-b-h1", "fln-b-h2", "fln-b-p1", "fln-b-p2", "fln-b-ul"], LabNamespaces("fln-b"));
        Assert.True(Directory.Exists(LabDirectory("fln-a")));
        Assert.Empty(LabNamespaces());

        // Lab "fln" owns fln-ul/fln-hI/fln-pI only, not every fln-* name: its down finds nothing of fln-a or fln-b.
        var prefix = await RunLabAsync(["down", "--name", "fln"]);
        Assert.True(prefix.ExitCode == 0, $"lab down --name fln exited {prefix.ExitCode}\n{prefix.Stderr}");
        Assert.Contains("no lab named fln found", prefix.Stderr, StringComparison.Ordinal);
        Assert.Equal(5, LabNamespaces("fln-a").Count);
        Assert.Equal(5, LabNamespaces("fln-b").Count);

        var downA = await RunLabAsync(["down", "--name", "fln-a"]);
        Assert.True(downA.ExitCode == 0, $"lab down --name fln-a exited {downA.ExitCode}\n{downA.Stderr}");
        Assert.Contains("deleted namespace fln-a-ul", downA.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("fln-b", downA.Stderr, StringComparison.Ordinal);
        AssertNothingLeft("fln-a");
        Assert.All(pidsA, pid => Assert.False(IsLabDaemon(pid, "fln-a")));

        // Lab b is intact: daemons running and ready, namespaces, directory, and its kernel state (iproute2 as the
        // independent oracle: the udp route through flannel0 in each host).
        Assert.All(pidsB, pid => Assert.True(IsLabDaemon(pid, "fln-b"), $"fln-b's flanneld {pid} should survive lab down --name fln-a"));
        Assert.Equal(5, LabNamespaces("fln-b").Count);
        Assert.True(File.Exists(Path.Combine(LabDirectory("fln-b"), "state.json")));
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) })
        {
            foreach (var h in jb.RootElement.GetProperty("hosts").EnumerateArray())
            {
                using var ready = await http.GetAsync(new Uri($"http://127.0.0.1:{h.GetProperty("healthPort").GetInt32()}/readyz"), TestContext.Current.CancellationToken);
                Assert.True(ready.IsSuccessStatusCode);
                var routes = await RunAsync("ip", ["-n", h.GetProperty("host").GetString()!, "route", "show"]);
                Assert.Contains("10.244.0.0/16 dev flannel0", routes, StringComparison.Ordinal);
            }
        }

        var downB = await RunLabAsync(["down", "--name", "fln-b"]);
        Assert.True(downB.ExitCode == 0, $"lab down --name fln-b exited {downB.ExitCode}\n{downB.Stderr}");
        AssertNothingLeft("fln-b");
        Assert.All(pidsB, pid => Assert.False(IsLabDaemon(pid, "fln-b")));
        var again = await RunLabAsync(["down", "--name", "fln-b"]);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("no lab named fln-b found", again.Stderr, StringComparison.Ordinal);

        static List<int> Pids(JsonDocument j) => j.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("pid").GetInt32()).ToList();
    }

    [PrivilegedTheory]
    [InlineData("vxlan")]
    [InlineData("host-gw")]
    public async Task DualStackLabPingsPodsOverIPv4AndIPv6(string backend)
    {
        var run = await RunLabAsync(["up", "--name", "fln-6", "--nodes", "2", "--backend", backend, "--ipv6", "--json", "--pings", "2"]);
        Assert.True(run.ExitCode == 0, $"lab up --ipv6 --backend {backend} exited {run.ExitCode}\n{run.Stderr}");
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.True(root.GetProperty("ipv6").GetBoolean());
        var hosts = root.GetProperty("hosts").EnumerateArray().ToList();
        Assert.Equal(2, hosts.Count);
        Assert.Equal(["fd00:198:18::1", "fd00:198:18::2"], hosts.Select(h => h.GetProperty("publicIPv6").GetString()));
        var subnets6 = hosts.Select(h => System.Net.IPNetwork.Parse(h.GetProperty("ipv6Subnet").GetString()!)).ToList();
        Assert.All(subnets6, s =>
        {
            Assert.Equal(64, s.PrefixLength);
            Assert.True(System.Net.IPNetwork.Parse("fd00:10:244::/48").Contains(s.BaseAddress), $"{s} is outside fd00:10:244::/48");
        });
        Assert.NotEqual(subnets6[0], subnets6[1]);
        Assert.All(hosts, h =>
        {
            Assert.Equal(1, h.GetProperty("peers").GetInt32());
            Assert.Equal(1, h.GetProperty("peersV6").GetInt32());
            Assert.Equal(2, h.GetProperty("sentV6").GetInt32());
            Assert.Equal(2, h.GetProperty("receivedV6").GetInt32());
            Assert.True(System.Net.IPNetwork.Parse(h.GetProperty("ipv6Subnet").GetString()!).Contains(System.Net.IPAddress.Parse(h.GetProperty("podIPv6").GetString()!)));
        });

        // Every ordered pair once per family, every echo answered.
        var pings = root.GetProperty("pings").EnumerateArray().ToList();
        Assert.Equal(4, pings.Count);
        Assert.Equal(2, pings.Count(p => p.GetProperty("family").GetString() == "ipv6"));
        Assert.All(pings.Where(p => p.GetProperty("family").GetString() == "ipv6"), p => Assert.Contains(':', p.GetProperty("destination").GetString()!));
        Assert.All(pings, p => Assert.Equal(p.GetProperty("sent").GetInt32(), p.GetProperty("received").GetInt32()));
        AssertNothingLeft("fln-6");
    }

    public void Dispose()
    {
        // Whatever a failed assertion left: remove it through the lab itself, then the directory.
        foreach (var name in new[] { DefaultName, "fln-a", "fln-b", "fln-k", "fln-6" })
        {
            if (Directory.Exists(LabDirectory(name)) || LabNamespaces(name).Count > 0)
            {
                using var p = Process.Start(StartInfo(["down", "--name", name]))!;
                if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
                {
                    p.Kill();
                }
            }

            if (Directory.Exists(LabDirectory(name)))
            {
                Directory.Delete(LabDirectory(name), recursive: true);
            }
        }
    }

    private static string Flanneld()
    {
        // tests/Flannel.Lab.Tests/bin/<Configuration>/net10.0/ → samples/Flanneld/bin/<Configuration>/net10.0/flanneld
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var tfm = baseDir.Name;
        var configuration = baseDir.Parent!.Name;
        var dir = baseDir;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Flannel.Net.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var exe = Path.Combine(dir.FullName, "samples", "Flanneld", "bin", configuration, tfm, "flanneld");
        Assert.True(File.Exists(exe), $"flanneld not built at {exe}");
        return exe;
    }

    private ProcessStartInfo StartInfo(string[] args)
    {
        var psi = new ProcessStartInfo(Flanneld())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("lab");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["FLANNEL_LAB_DIR"] = _dir;
        return psi;
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunLabAsync(string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await p.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(RunTimeout, TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            p.Kill();
            throw new TimeoutException($"flanneld lab {string.Join(' ', args)} did not finish in {RunTimeout.TotalSeconds:0} s");
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    private static async Task<string> RunAsync(string exe, string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(p.ExitCode == 0, $"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {await stderr}");
        return await stdout;
    }

    /// <summary>The directory of lab <paramref name="name"/>: FLANNEL_LAB_DIR for the default lab, FLANNEL_LAB_DIR-NAME otherwise.</summary>
    private string LabDirectory(string name) => name == DefaultName ? _dir : _dir + "-" + name;

    private static List<int> ReadStatePids(string directory)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "state.json")));
            return doc.RootElement.GetProperty("processes").EnumerateArray().Select(p => p.GetProperty("pid").GetInt32()).ToList();
        }
        catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException)
        {
            return [];
        }
    }

    private void AssertNothingLeft(string name = DefaultName)
    {
        Assert.Empty(LabNamespaces(name));
        Assert.Empty(LabDaemons(name));
        Assert.False(Directory.Exists(LabDirectory(name)), $"{LabDirectory(name)} should be gone");
        Assert.False(File.Exists(LabDirectory(name) + ".lock"), $"{LabDirectory(name)}.lock should be gone");
    }

    /// <summary>The namespaces of lab <paramref name="name"/> (NAME-ul, NAME-hI, NAME-pI), sorted.</summary>
    private static List<string> LabNamespaces(string name = DefaultName) =>
        Directory.Exists("/var/run/netns")
            ? Directory.EnumerateFileSystemEntries("/var/run/netns", name + "-*").Select(p => Path.GetFileName(p))
                .Where(n => System.Text.RegularExpressions.Regex.IsMatch(n[(name.Length + 1)..], "^(ul|[hp][0-9]+)$")).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>Processes (read from /proc, never signalled) whose arguments name a host namespace of lab <paramref name="name"/>.</summary>
    private static List<int> LabDaemons(string name) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && IsLabDaemon(pid, name))
            .ToList();

    private static bool IsLabDaemon(int pid, string name = DefaultName)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var named = args.Zip(args.Skip(1)).Any(a => a.First == "--netns" && System.Text.RegularExpressions.Regex.IsMatch(a.Second, "^" + System.Text.RegularExpressions.Regex.Escape(name) + "-h[0-9]+$"));
            if (!named)
            {
                return false;
            }

            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }
}
