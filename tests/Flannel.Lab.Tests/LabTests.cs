using System.Diagnostics;
using System.Text.Json;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Lab.Tests;

/// <summary>
/// Runs the built <c>flanneld lab</c> as a process, as a user would: real namespaces, real daemons, real pings.
/// The tests of this class run one after another (the lab's names are fixed: flab-*).
/// </summary>
public sealed class LabTests : IDisposable
{
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
            if (backend is "vxlan" or "host-gw")
            {
                Assert.All(hosts, h => Assert.Equal(2, h.GetProperty("peers").GetInt32()));
            }
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
        var psi = StartInfo(["up", "--nodes", "2", "--backend", "vxlan"]);
        using (var lab = Process.Start(psi)!)
        {
            var pids = new List<int>();
            try
            {
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < TimeSpan.FromSeconds(60))
                {
                    pids = ReadStatePids();
                    if (pids.Count == 2 && pids.All(IsLabDaemon))
                    {
                        break;
                    }

                    await Task.Delay(50, TestContext.Current.CancellationToken);
                }

                Assert.Equal(2, pids.Count);
            }
            finally
            {
                lab.Kill(entireProcessTree: false);
                await lab.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            }

            // The killed run left daemons and namespaces behind.
            Assert.All(pids, pid => Assert.True(IsLabDaemon(pid), $"flanneld {pid} should have outlived the killed lab"));
            Assert.Contains("flab-h1", LabNamespaces());

            var next = await RunLabAsync(["up", "--nodes", "2", "--backend", "vxlan", "--json", "--pings", "2"]);
            Assert.True(next.ExitCode == 0, $"lab up after a killed run exited {next.ExitCode}\n{next.Stderr}");
            Assert.Contains("deleted namespace flab-h1", next.Stderr, StringComparison.Ordinal);
            foreach (var pid in pids)
            {
                Assert.Contains($"flanneld {pid}", next.Stderr, StringComparison.Ordinal);
                Assert.False(IsLabDaemon(pid));
            }
        }

        AssertNothingLeft();
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
    }

    public void Dispose()
    {
        // Whatever a failed assertion left: remove it through the lab itself, then the directory.
        if (Directory.Exists(_dir) || LabNamespaces().Count > 0)
        {
            using var p = Process.Start(StartInfo(["down"]))!;
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                p.Kill();
            }
        }

        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
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

    private List<int> ReadStatePids()
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "state.json")));
            return doc.RootElement.GetProperty("processes").EnumerateArray().Select(p => p.GetProperty("pid").GetInt32()).ToList();
        }
        catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException)
        {
            return [];
        }
    }

    private void AssertNothingLeft()
    {
        Assert.Empty(LabNamespaces());
        Assert.Empty(LabDaemons());
        Assert.False(Directory.Exists(_dir), $"{_dir} should be gone");
    }

    private static List<string> LabNamespaces() =>
        Directory.Exists("/var/run/netns")
            ? Directory.EnumerateFileSystemEntries("/var/run/netns", "flab-*").Select(p => Path.GetFileName(p)).ToList()
            : [];

    /// <summary>Processes (read from /proc, never signalled) whose arguments name a flab- namespace.</summary>
    private static List<int> LabDaemons() =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && IsLabDaemon(pid))
            .ToList();

    private static bool IsLabDaemon(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var named = args.Zip(args.Skip(1)).Any(a => a.First == "--netns" && a.Second.StartsWith("flab-", StringComparison.Ordinal));
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
