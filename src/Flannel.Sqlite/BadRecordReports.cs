using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Flannel.Stores;

/// <summary>
/// How loudly a store reports a lease record it skips: a warning the first time a key is seen bad at a revision,
/// debug afterwards — every snapshot, resync, renewal and watch poll reads it again, and the same warning many times
/// per start hides the others. Shared by the etcd and SQLite registries (a linked file).
/// </summary>
internal sealed class BadRecordReports
{
    private const int Remembered = 1024;
    private readonly ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);

    /// <summary>The level to log this sighting at; remembers it.</summary>
    public LogLevel LevelFor(string key, long revision)
    {
        if (_seen.TryGetValue(key, out var seen) && seen == revision)
        {
            return LogLevel.Debug;
        }

        if (_seen.Count >= Remembered)
        {
            _seen.Clear();
        }

        _seen[key] = revision;
        return LogLevel.Warning;
    }
}
