using System.Diagnostics;

namespace Flanneld.Labs;

/// <summary>
/// Removes a lab: daemons by PID from the state file (SIGTERM, then SIGKILL after a timeout; a PID is signalled only
/// while its command line still names a flab- namespace, so a recycled PID is never hit), then every flab-
/// namespace (from the state file and by prefix), then the working directory.
/// </summary>
internal static class LabTeardown
{
    private const int SIGTERM = 15;
    private const int SIGKILL = 9;

    /// <summary>Tears down; returns a description of what was removed (empty when there was nothing).</summary>
    public static async Task<List<string>> RunAsync(string directory, TimeSpan gracePeriod)
    {
        var removed = new List<string>();
        var state = LabState.Load(directory);
        if (state is not null)
        {
            var alive = state.Processes.Where(p => IsLabDaemon(p.Pid)).ToList();
            foreach (var (_, pid) in alive)
            {
                LabNative.Signal(pid, SIGTERM);
            }

            var sw = Stopwatch.StartNew();
            while (alive.Any(p => IsLabDaemon(p.Pid)) && sw.Elapsed < gracePeriod)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }

            foreach (var (host, pid) in alive)
            {
                if (IsLabDaemon(pid))
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
            while (alive.Any(p => IsLabDaemon(p.Pid)) && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }

        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (state is not null)
        {
            names.UnionWith(state.Namespaces);
        }

        names.UnionWith(ListNamespaces());
        foreach (var name in names)
        {
            if (LabNative.DeleteNamedNamespace(name))
            {
                removed.Add("deleted namespace " + name);
            }
        }

        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
            removed.Add("removed " + directory);
        }

        return removed;
    }

    /// <summary>The named namespaces with the lab prefix.</summary>
    public static IEnumerable<string> ListNamespaces() =>
        Directory.Exists(LabNative.NetnsDirectory)
            ? Directory.EnumerateFileSystemEntries(LabNative.NetnsDirectory, LabState.Prefix + "*").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>Whether <paramref name="pid"/> is alive and still a lab daemon (its arguments name a flab- namespace).</summary>
    public static bool IsLabDaemon(int pid)
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
                if (args[i] == "--netns" && args[i + 1].StartsWith(LabState.Prefix, StringComparison.Ordinal))
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
