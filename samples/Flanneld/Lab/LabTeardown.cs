using System.Diagnostics;

namespace Flanneld.Labs;

/// <summary>
/// Removes one lab: daemons by PID from the state file (SIGTERM, then SIGKILL after a timeout; a PID is signalled only
/// while its command line still names one of this lab's host namespaces, so a recycled PID or another lab's daemon is
/// never hit), then this lab's namespaces (from the state file and by their exact shape NAME-ul/-hI/-pI), then the
/// lab's directory. Other labs are not touched.
/// </summary>
internal static class LabTeardown
{
    private const int SIGTERM = 15;
    private const int SIGKILL = 9;

    /// <summary>Tears down; returns a description of what was removed (empty when there was nothing).</summary>
    public static async Task<List<string>> RunAsync(string directory, LabName name, TimeSpan gracePeriod)
    {
        var removed = new List<string>();
        var state = LabState.Load(directory, name);
        if (state is not null)
        {
            var alive = state.Processes.Where(p => IsLabDaemon(p.Pid, name)).ToList();
            foreach (var (_, pid) in alive)
            {
                LabNative.Signal(pid, SIGTERM);
            }

            var sw = Stopwatch.StartNew();
            while (alive.Any(p => IsLabDaemon(p.Pid, name)) && sw.Elapsed < gracePeriod)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }

            foreach (var (host, pid) in alive)
            {
                if (IsLabDaemon(pid, name))
                {
                    LabNative.Signal(pid, SIGKILL);
                    removed.Add($"killed flanneld {pid} ({host}) after {gracePeriod.TotalSeconds:0} s");
                }
                else
                {
                    removed.Add($"stopped flanneld {pid} ({host})");
                }
            }

            sw.Restart();
            while (alive.Any(p => IsLabDaemon(p.Pid, name)) && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }

        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (state is not null)
        {
            names.UnionWith(state.Namespaces);
        }

        names.UnionWith(ListNamespaces(name));
        foreach (var ns in names)
        {
            if (LabNative.DeleteNamedNamespace(ns))
            {
                removed.Add("deleted namespace " + ns);
            }
        }

        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
            removed.Add("removed " + directory);
        }

        return removed;
    }

    /// <summary>The named namespaces of lab <paramref name="name"/>.</summary>
    public static IEnumerable<string> ListNamespaces(LabName name) =>
        Directory.Exists(LabNative.NetnsDirectory)
            ? Directory.EnumerateFileSystemEntries(LabNative.NetnsDirectory, name.Prefix + "*").Select(Path.GetFileName).OfType<string>().Where(name.OwnsNamespace).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>Whether <paramref name="pid"/> is alive and still a daemon of lab <paramref name="name"/> (its arguments say <c>--netns NAME-hI</c>).</summary>
    public static bool IsLabDaemon(int pid, LabName name)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            if (cmdline.Length == 0)
            {
                return false; // a zombie: already exited
            }

            var args = cmdline.Split('\0');
            for (var i = 0; i + 1 < args.Length; i++)
            {
                if (args[i] == "--netns" && name.OwnsHost(args[i + 1]))
                {
                    return !IsZombie(pid);
                }
            }

            return false;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
