using System.Globalization;
using System.Runtime.InteropServices;
using Flanneld.Labs;

namespace Flanneld;

/// <summary>
/// <c>flanneld lab up|down</c>: a throw-away cluster of network namespaces on this machine, one real flanneld per
/// host, pods pinging each other. Everything it creates is named <c>flab-*</c> and recorded in a state file.
/// </summary>
internal static class Lab
{
    private const string DefaultDirectory = "/run/flannel-lab";

    private const string Usage = """
        Usage:
          flanneld lab up [--nodes N] [--backend vxlan|host-gw|udp|alloc] [--keep] [--json] [--pings N]
          flanneld lab down

        lab up builds N hosts (network namespaces flab-h1..flab-hN, eth0 198.18.0.i/24 on a bridge in flab-ul),
        starts one flanneld per host (--netns flab-hI, one shared embedded lease store), adds a pod per host
        (namespace flab-pI behind a veth, addressed from the host's lease), waits for /readyz, pings every pod
        from every other pod and prints a table. It exits 0 when every pair answered every echo (alloc: when
        every host holds a distinct lease and wrote subnet.env; alloc has no data path, so nothing is pinged).
        Without --keep it removes the lab at the end. Leftovers of an earlier run are removed first.

          --nodes N        hosts, 2..50 (default 3)
          --backend NAME   vxlan, host-gw, udp or alloc (default vxlan)
          --keep           leave the lab running; inspect it, then run `flanneld lab down`
          --json           print the result as JSON on stdout (progress stays on stderr)
          --pings N        echoes per pod pair after warm-up (default 5)

        lab down stops the lab's daemons (by PID from the state file: SIGTERM, then SIGKILL), deletes every
        flab-* namespace and the lab directory.

        Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW). Lab directory: FLANNEL_LAB_DIR or /run/flannel-lab.
        """;

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "-help" or "help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        if (args.Skip(1).Any(a => a is "-h" or "--help" or "-help"))
        {
            Console.Error.WriteLine(Usage);
            return 0;
        }

        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("flanneld lab: needs Linux (network namespaces)");
            return 1;
        }

        var directory = environment.TryGetValue("FLANNEL_LAB_DIR", out var d) && d.Length > 0 ? d : DefaultDirectory;
        if (!Path.IsPathFullyQualified(directory))
        {
            Console.Error.WriteLine($"flanneld lab: FLANNEL_LAB_DIR must be an absolute path, not \"{directory}\"");
            return 2;
        }

        switch (args[0])
        {
            case "up":
                LabOptions options;
                try
                {
                    options = ParseUp(args[1..], directory);
                }
                catch (ArgumentException ex)
                {
                    Console.Error.WriteLine($"flanneld lab up: {ex.Message}");
                    Console.Error.WriteLine("Run 'flanneld lab --help' for the options.");
                    return 2;
                }

                if (!IsRoot())
                {
                    return NeedsRoot();
                }

                using (var cts = new CancellationTokenSource())
                using (PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); }))
                using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); }))
                {
                    return await new LabUp(options, LabProgress.ForStderr()).RunAsync(cts.Token).ConfigureAwait(false);
                }

            case "down":
                if (args.Length > 1)
                {
                    Console.Error.WriteLine($"flanneld lab down: unexpected argument \"{args[1]}\"");
                    return 2;
                }

                if (!IsRoot())
                {
                    return NeedsRoot();
                }

                try
                {
                    var removed = await LabTeardown.RunAsync(directory, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    foreach (var line in removed)
                    {
                        Console.Error.WriteLine("  " + line);
                    }

                    Console.Error.WriteLine(removed.Count == 0 ? "flanneld lab down: no lab found" : "flanneld lab down: done");
                    return 0;
                }
                catch (IOException ex)
                {
                    Console.Error.WriteLine($"flanneld lab down: {ex.Message}");
                    return 1;
                }

            default:
                Console.Error.WriteLine($"flanneld lab: unknown verb \"{args[0]}\" (up or down)");
                Console.Error.WriteLine("Run 'flanneld lab --help' for the options.");
                return 2;
        }
    }

    internal static LabOptions ParseUp(string[] args, string directory)
    {
        var nodes = 3;
        var backend = "vxlan";
        var keep = false;
        var json = false;
        var pings = 5;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string? inline = null;
            var eq = a.IndexOf('=', StringComparison.Ordinal);
            if (a.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = a[(eq + 1)..];
                a = a[..eq];
            }

            string Value()
            {
                if (inline is not null)
                {
                    return inline;
                }

                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"{a} needs a value");
                }

                return args[++i];
            }

            switch (a)
            {
                case "--nodes" or "-n":
                    var n = Value();
                    if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out nodes) || nodes is < 2 or > 50)
                    {
                        throw new ArgumentException($"--nodes \"{n}\": expected a number from 2 to 50");
                    }

                    break;
                case "--backend" or "-b":
                    backend = Value();
                    if (backend is not ("vxlan" or "host-gw" or "udp" or "alloc"))
                    {
                        throw new ArgumentException($"--backend \"{backend}\": the lab runs vxlan, host-gw, udp or alloc (cloud backends need their cloud)");
                    }

                    break;
                case "--pings":
                    var p = Value();
                    if (!int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out pings) || pings is < 1 or > 1000)
                    {
                        throw new ArgumentException($"--pings \"{p}\": expected a number from 1 to 1000");
                    }

                    break;
                case "--keep" when inline is null:
                    keep = true;
                    break;
                case "--json" when inline is null:
                    json = true;
                    break;
                default:
                    throw new ArgumentException($"unknown option \"{args[i]}\"");
            }
        }

        return new LabOptions(nodes, backend, keep, json, directory, pings);
    }

    private static bool IsRoot() => Environment.IsPrivilegedProcess;

    private static int NeedsRoot()
    {
        Console.Error.WriteLine("flanneld lab: needs root (it creates network namespaces and runs flanneld in them); try sudo");
        return 1;
    }
}
