using System.Globalization;
using System.Runtime.InteropServices;
using Flanneld.Labs;

namespace Flanneld;

/// <summary>
/// <c>flanneld lab up|down</c>: a throw-away cluster of network namespaces on this machine, one real flanneld per
/// host, pods pinging each other. Everything it creates is named after the lab (<c>--name</c>, default <c>flab</c>:
/// <c>flab-h1</c>, …) and recorded in a state file, so several labs with different names can run side by side.
/// </summary>
internal static class Lab
{
    private const string DefaultDirectory = "/run/flannel-lab";

    private const string Usage = """
        Usage:
          flanneld lab up [--name NAME] [--nodes N] [--backend vxlan|host-gw|udp|alloc] [--ipv6] [--keep] [--json] [--pings N]
          flanneld lab down [--name NAME]

        lab up builds N hosts (network namespaces NAME-h1..NAME-hN, eth0 198.18.0.i/24 on a bridge in NAME-ul),
        starts one flanneld per host (--netns NAME-hI, one shared embedded lease store), adds a pod per host
        (namespace NAME-pI behind a veth, addressed from the host's lease), waits for /readyz, pings every pod
        from every other pod and prints a table. It exits 0 when every pair answered every echo (alloc: when
        every host holds a distinct lease and wrote subnet.env; alloc has no data path, so nothing is pinged).
        Without --keep it removes the lab at the end. Leftovers of an earlier run of the same lab are removed first.

          --name NAME      the lab's name (default flab): namespaces NAME-*, directory DIR (default lab) or DIR-NAME;
                           labs with different names run side by side. 1..11 of a-z, 0-9 and '-'
          --nodes N        hosts, 2..50 (default 3)
          --backend NAME   vxlan, host-gw, udp or alloc (default vxlan)
          --ipv6           dual stack: pods get IPv6 addresses from fd00:10:244::/48 (underlay fd00:198:18::/64)
                           and are pinged over IPv6 too; vxlan, host-gw and alloc (udp carries IPv4 only)
          --keep           leave the lab running; inspect it, then run `flanneld lab down [--name NAME]`
          --json           print the result as JSON on stdout (progress stays on stderr)
          --pings N        echoes per pod pair after warm-up (default 5)

        lab down stops the lab's daemons (by PID from the state file: SIGTERM, then SIGKILL), deletes the lab's
        namespaces (NAME-ul, NAME-hI, NAME-pI) and its directory. Other labs are left alone.

        Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW). Lab directory DIR: FLANNEL_LAB_DIR or /run/flannel-lab.
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

                LabLock upLock;
                try
                {
                    upLock = LabLock.Acquire(options.Directory, options.Name);
                }
                catch (IOException ex)
                {
                    Console.Error.WriteLine($"flanneld lab up: {ex.Message}");
                    return 1;
                }

                using (upLock)
                using (var cts = new CancellationTokenSource())
                using (PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); }))
                using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); }))
                {
                    return await new LabUp(options, LabProgress.ForStderr()).RunAsync(cts.Token).ConfigureAwait(false);
                }

            case "down":
                LabName name;
                try
                {
                    name = ParseDown(args[1..]);
                }
                catch (ArgumentException ex)
                {
                    Console.Error.WriteLine($"flanneld lab down: {ex.Message}");
                    return 2;
                }

                if (!IsRoot())
                {
                    return NeedsRoot();
                }

                try
                {
                    using var downLock = LabLock.Acquire(name.Directory(directory), name);
                    var removed = await LabTeardown.RunAsync(name.Directory(directory), name, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    foreach (var line in removed)
                    {
                        Console.Error.WriteLine("  " + line);
                    }

                    Console.Error.WriteLine(removed.Count == 0 ? $"flanneld lab down: no lab named {name} found" : $"flanneld lab down: lab {name} removed");
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

    internal static LabName ParseDown(string[] args)
    {
        var name = LabName.Default;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--name" && i + 1 < args.Length)
            {
                name = LabName.Parse(args[++i]);
            }
            else if (args[i].StartsWith("--name=", StringComparison.Ordinal))
            {
                name = LabName.Parse(args[i]["--name=".Length..]);
            }
            else
            {
                throw new ArgumentException(args[i] == "--name" ? "--name needs a value" : $"unexpected argument \"{args[i]}\" (only --name NAME)");
            }
        }

        return name;
    }

    internal static LabOptions ParseUp(string[] args, string baseDirectory)
    {
        var name = LabName.Default;
        var ipv6 = false;
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
                case "--name":
                    name = LabName.Parse(Value());
                    break;
                case "--ipv6" when inline is null:
                    ipv6 = true;
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

        if (ipv6 && backend == "udp")
        {
            throw new ArgumentException("--ipv6 with --backend \"udp\": the udp backend carries IPv4 only (flannel's too); use vxlan, host-gw or alloc for a dual-stack lab");
        }

        return new LabOptions(name, nodes, backend, ipv6, keep, json, name.Directory(baseDirectory), pings);
    }

    private static bool IsRoot() => Environment.IsPrivilegedProcess;

    private static int NeedsRoot()
    {
        Console.Error.WriteLine("flanneld lab: needs root (it creates network namespaces and runs flanneld in them); try sudo");
        return 1;
    }
}
