namespace Flannel.Sqlite;

/// <summary>Options of <see cref="SqliteLeaseRegistry"/>, the embedded single-file lease store.</summary>
public sealed record SqliteLeaseRegistryOptions
{
    /// <summary>The default database path (<c>/var/lib/flannel/leases.db</c>).</summary>
    public const string DefaultPath = "/var/lib/flannel/leases.db";

    /// <summary>
    /// The database file. Every daemon that opens the same file shares one lease registry (for example one
    /// daemon per network namespace in a lab). The directory is created when missing.
    /// </summary>
    public string Path { get; init; } = DefaultPath;

    /// <summary>How long a write waits for another process's write transaction to finish before failing (default 10 s).</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a watcher polls the revision counter (default 200 ms). Each poll is one indexed read; expired
    /// leases are deleted (and reported as removed) by whichever watcher or writer sees them first.
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How many change events are kept for watchers (default 10 000). A watcher that falls further behind gets a
    /// fresh snapshot instead, as after etcd compaction.
    /// </summary>
    public int EventRetention { get; init; } = 10_000;
}
