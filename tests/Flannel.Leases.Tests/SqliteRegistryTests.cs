using System.Diagnostics;
using System.Net;
using Flannel.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Leases.Tests;

public sealed class SqliteRegistryTests : RegistryContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fln-sqlite-").FullName;
    private readonly List<SqliteLeaseRegistry> _opened = [];

    private string DbPath => Path.Combine(_dir, "sub", "leases.db");

    protected override TimeSpan ShortTtl => TimeSpan.FromMilliseconds(400);

    protected override Task<ILeaseRegistry> OpenAsync() => Task.FromResult<ILeaseRegistry>(Open());

    private SqliteLeaseRegistry Open(TimeProvider? time = null, int retention = 10_000)
    {
        var r = new SqliteLeaseRegistry(
            new SqliteLeaseRegistryOptions { Path = DbPath, PollInterval = TimeSpan.FromMilliseconds(50), EventRetention = retention },
            new FakeLogger<SqliteLeaseRegistry>(Logger.Collector),
            time);
        _opened.Add(r);
        return r;
    }

    protected override async Task PutRawAsync(string keySuffix, string value)
    {
        // Behind the registry's back, but the way a writer must: bump the revision and log the event.
        _ = await Open().ListAsync(L.Timeout()); // make sure the schema exists
        using var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        conn.Open();
        using var tx = conn.BeginTransaction();
        using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = """
            UPDATE state SET revision = revision + 1;
            INSERT INTO leases(key, value, expires_ms, mod_revision) VALUES (@k, @v, NULL, (SELECT revision FROM state))
              ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_ms = NULL, mod_revision = excluded.mod_revision;
            INSERT INTO events(revision, key, kind, value) VALUES ((SELECT revision FROM state), @k, 0, @v);
            """;
        cmd.Parameters.AddWithValue("@k", keySuffix);
        cmd.Parameters.AddWithValue("@v", value);
        cmd.ExecuteNonQuery();
        tx.Commit();
    }

    protected override Task SetConfigAsync(string json) => Open().SetNetworkConfigAsync(json, L.Timeout()).AsTask();

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var r in _opened)
        {
            r.Dispose();
        }

        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Database_file_is_created_with_its_directory_in_wal_mode()
    {
        var r = Open();
        await r.ListAsync(L.Timeout());
        Assert.True(File.Exists(DbPath));
        using var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", cmd.ExecuteScalar() as string);
    }

    [Fact]
    public async Task Bad_config_is_rejected_with_the_field_named()
    {
        var r = Open();
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => r.SetNetworkConfigAsync("""{"Network": 17}""", L.Timeout()).AsTask());
        Assert.Contains("Network", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Expiry_follows_the_clock_and_is_reported_once_across_instances()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var a = Open(time);
        var b = Open(time);
        await a.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), TimeSpan.FromHours(24), L.Timeout());
        await a.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), null, L.Timeout());
        var start = await a.ListAsync(L.Timeout());

        time.Advance(TimeSpan.FromHours(23));
        Assert.Equal(2, (await b.ListAsync(L.Timeout())).Leases.Count);
        time.Advance(TimeSpan.FromHours(1.01));

        // Two instances observe the expiry concurrently; exactly one removal event is logged.
        await Task.WhenAll(a.ListAsync(L.Timeout()).AsTask(), b.ListAsync(L.Timeout()).AsTask());
        var left = Assert.Single((await b.ListAsync(L.Timeout())).Leases);
        Assert.Equal(L.Net("10.5.4.0/24"), left.Subnet);

        using var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM events WHERE kind = 1 AND key = '10.5.3.0-24'";
        Assert.Equal(1L, (long)cmd.ExecuteScalar()!);
        Assert.True((await b.ListAsync(L.Timeout())).Revision > start.Revision);
    }

    [Fact]
    public async Task Renewal_of_a_lease_extends_it_past_the_old_expiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var r = Open(time);
        var lease = await r.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), TimeSpan.FromHours(24), L.Timeout());
        time.Advance(TimeSpan.FromHours(23));
        var renewed = await r.UpdateAsync(lease!, TimeSpan.FromHours(24), L.Timeout());
        Assert.Equal(time.GetUtcNow().AddHours(24).ToUnixTimeMilliseconds(), renewed.Expiration!.Value.ToUnixTimeMilliseconds());
        time.Advance(TimeSpan.FromHours(2));
        Assert.Single((await r.ListAsync(L.Timeout())).Leases);
    }

    [Fact]
    public async Task Watcher_behind_the_pruned_event_log_gets_a_snapshot()
    {
        var r = Open(retention: 5);
        var start = await r.ListAsync(L.Timeout());
        for (var i = 1; i <= 12; i++)
        {
            await r.CreateAsync(L.Make($"10.5.{i}.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        }

        await r.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await using var w = new WatchRecorder(r, start);
        await w.WaitUntil(x => x.All.Count > 0, "the first result");
        var first = w.All[0];
        Assert.True(first.IsSnapshot);
        Assert.Equal(11, first.Snapshot!.Count);
        Assert.Equal((await r.ListAsync(L.Timeout())).Revision, first.Revision);

        await r.CreateAsync(L.Make("10.5.100.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        await w.WaitUntil(x => x.State.Count == 12, "the event after the snapshot");
        Assert.False(w.All[^1].IsSnapshot);
    }

    [Fact]
    public async Task Unchanged_rows_are_decoded_once_and_shared_by_every_reader()
    {
        var r = Open();
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        var b = await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout());
        var first = await r.ListAsync(L.Timeout());
        var second = await r.ListAsync(L.Timeout());
        Assert.Same(first.Leases[0], second.Leases[0]);
        Assert.Same(first.Leases[1], second.Leases[1]);

        // A rewrite is read afresh, and a watcher's event for it is the lease the next snapshot holds.
        await using var w = new WatchRecorder(r, second);
        var moved = await r.UpdateAsync(b! with { Attributes = b.Attributes with { PublicIP = IPAddress.Parse("198.18.0.22") } }, TimeSpan.FromHours(1), L.Timeout());
        await w.WaitUntil(x => x.Events.Any(), "the update");
        var third = await r.ListAsync(L.Timeout());
        Assert.Same(first.Leases[0], third.Leases[0]);
        Assert.Equal(IPAddress.Parse("198.18.0.22"), third.Leases[1].Attributes.PublicIP);
        Assert.Equal(moved.Revision, third.Leases[1].Revision);
        Assert.Same(w.Events.Single().Lease, third.Leases[1]);
    }

    [Fact]
    public async Task A_recreated_database_that_reuses_revisions_is_not_served_from_the_decode_cache()
    {
        var r = Open();
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        var before = await r.ListAsync(L.Timeout());

        // Another tool deletes the file and a new one is written with the same key at the same revision.
        SqliteConnection.ClearAllPools();
        foreach (var f in Directory.GetFiles(Path.GetDirectoryName(DbPath)!))
        {
            File.Delete(f);
        }

        var other = Open();
        await other.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.99"), TimeSpan.FromHours(1), L.Timeout());
        var after = await r.ListAsync(L.Timeout());
        Assert.Equal(before.Leases[0].Revision, after.Leases[0].Revision);
        Assert.Equal(IPAddress.Parse("198.18.0.99"), after.Leases[0].Attributes.PublicIP);
    }

    [Fact]
    public async Task A_watcher_follows_a_file_deleted_and_created_again()
    {
        var r = Open();
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout());
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);
        await Task.Delay(300); // the watcher holds its own connection now

        SqliteConnection.ClearAllPools();
        foreach (var f in Directory.GetFiles(Path.GetDirectoryName(DbPath)!))
        {
            File.Delete(f);
        }

        var other = Open();
        for (var i = 0; i < 5; i++)
        {
            await other.CreateAsync(L.Make($"10.5.{10 + i}.0/24", "198.18.0.9"), TimeSpan.FromHours(1), L.Timeout());
        }

        // The watcher renews its connection within seconds, sees a new file and sends a snapshot of it.
        await w.WaitUntil(x => x.State.Count == 5 && x.State.Keys.All(k => k.Item1!.Value.BaseAddress.GetAddressBytes()[2] >= 10), "the new file's 5 leases", seconds: 20);
    }

    [Fact]
    public async Task A_watcher_does_not_spin_on_an_expiry_the_sweep_cannot_match()
    {
        var r = Open();
        var start = await r.ListAsync(L.Timeout());
        using (var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            // Edited by hand: text where a number belongs. Neither the check nor the sweep can take it as due.
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "INSERT INTO leases(key, value, expires_ms, mod_revision, subnet4) VALUES ('10.5.7.0-24', '{}', 'soon', 0, '10.5.7.0/24'), ('10.5.8.0-24', '{}', 1.5, 0, '10.5.8.0/24')";
            cmd.ExecuteNonQuery();
        }

        await using var w = new WatchRecorder(r, start);
        await Task.Delay(2000);

        // The row with expiry 1.5 ms is due and swept; nothing makes the watcher sweep in a loop (poll: 50 ms).
        var sweeps = Logger.Collector.GetSnapshot().Count(x => x.Id.Id == 5506);
        Assert.InRange(sweeps, 1, 25);
        Assert.DoesNotContain(w.State.Keys, k => k.Item1 == L.Net("10.5.8.0/24"));
    }

    [Fact]
    public async Task Removal_events_carry_the_last_attributes()
    {
        var r = Open();
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.77"), TimeSpan.FromHours(1), L.Timeout());
        await r.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await w.WaitUntil(x => x.Events.Any(e => e.Kind == LeaseEventKind.Removed), "the removal");
        Assert.Equal(IPAddress.Parse("198.18.0.77"), w.Events.Single(e => e.Kind == LeaseEventKind.Removed).Lease.Attributes.PublicIP);
    }

    [Fact]
    public async Task One_subnet_cannot_be_held_by_two_keys()
    {
        var r = Open();
        Assert.NotNull(await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout()));
        // Same IPv4 subnet under a dual-stack key: a different key, but the subnet is taken.
        Assert.Null(await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.2", "fc00::/64"), TimeSpan.FromHours(1), L.Timeout()));
        var ex = await Assert.ThrowsAnyAsync<FlannelException>(() => r.UpdateAsync(L.Make("10.5.1.0/24", "198.18.0.2", "fc00::/64"), TimeSpan.FromHours(1), L.Timeout()).AsTask());
        Assert.Contains("10.5.1.0-24&fc00::-64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agents_in_several_processes_never_share_a_subnet()
    {
        // 5 processes x 10 agents = 50 agents acquiring at once from one file; 45 subnets, so exactly 5 run out.
        await Open().SetNetworkConfigAsync("""{"Network":"10.7.0.0/16","SubnetMax":"10.7.45.0","Backend":{"Type":"host-gw"}}""", L.Timeout());
        var procs = Enumerable.Range(0, 5).Select(p => StartBench("agent-sqlite", DbPath, "10", (p * 10 + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var lines = new List<string>();
        foreach (var p in procs)
        {
            var output = await p.StandardOutput.ReadToEndAsync(L.Timeout(120));
            await p.WaitForExitAsync(L.Timeout(120));
            Assert.True(p.ExitCode == 0, $"agent process exited {p.ExitCode}: {await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken)}");
            lines.AddRange(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        Assert.Equal(50, lines.Count);
        var ok = lines.Where(l => l.StartsWith("OK ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToList();
        var failed = lines.Where(l => l.StartsWith("ERR ", StringComparison.Ordinal)).ToList();
        Assert.Equal(45, ok.Count);
        Assert.Equal(45, ok.Distinct().Count());
        Assert.Equal(5, failed.Count);
        Assert.All(failed, l => Assert.Contains("SubnetExhaustedException", l, StringComparison.Ordinal));
        Assert.All(failed, l => Assert.Contains("out of subnets", l, StringComparison.Ordinal));
        var stored = (await Open().ListAsync(L.Timeout())).Leases.Select(l => $"{l.Subnet}").Order().ToList();
        Assert.Equal(ok.Order().ToList(), stored);
    }

    [Fact]
    public async Task Processes_killed_mid_write_leave_a_consistent_database()
    {
        _ = await Open().ListAsync(L.Timeout());
        for (var round = 0; round < 3; round++)
        {
            var procs = Enumerable.Range(1, 4).Select(id => StartBench("churn-sqlite", DbPath, id.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
            foreach (var p in procs)
            {
                Assert.Equal("READY", await p.StandardOutput.ReadLineAsync(L.Timeout(60)));
            }

            // Let them write (at least 20 more revisions, however loaded the machine is), then kill at a random moment.
            var target = ReadRevision() + 20;
            var waited = Stopwatch.StartNew();
            while (ReadRevision() < target)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(90), $"the churn processes wrote {ReadRevision() - target + 20} of 20 revisions in 90 s; exited: {string.Join(", ", procs.Where(p => p.HasExited).Select(p => p.ExitCode))}");
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            await Task.Delay(Random.Shared.Next(100), TestContext.Current.CancellationToken);
            foreach (var p in procs)
            {
                p.Kill(); // SIGKILL, wherever it is in its transaction
                await p.WaitForExitAsync(L.Timeout());
                p.Dispose();
            }
        }

        using (var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", cmd.ExecuteScalar() as string);
            cmd.CommandText = "SELECT (SELECT revision FROM state) = (SELECT MAX(revision) FROM events)";
            Assert.Equal(1L, (long)cmd.ExecuteScalar()!);
            cmd.CommandText = "SELECT COUNT(*) FROM leases WHERE mod_revision > (SELECT revision FROM state)";
            Assert.Equal(0L, (long)cmd.ExecuteScalar()!);
        }

        // Replaying the event log gives exactly the stored leases: nothing half-written.
        var r = Open();
        var snap = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, new LeaseSnapshot([], 0));
        await w.WaitUntil(x => x.Revision == snap.Revision, "the replay");
        Assert.Equal(snap.Leases.Select(Describe).Order(), w.State.Values.Select(Describe).Order());
        Assert.True(snap.Revision >= 60, $"only {snap.Revision} revisions were written");
    }

    private long ReadRevision()
    {
        using var conn = new SqliteConnection($"Data Source={DbPath};Pooling=False;Mode=ReadOnly");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA busy_timeout = 5000";
        cmd.ExecuteNonQuery();
        cmd.CommandText = "SELECT revision FROM state";
        return (long)cmd.ExecuteScalar()!;
    }

    private static Process StartBench(params string[] args)
    {
        var testDir = AppContext.BaseDirectory;
        var dll = Path.GetFullPath(Path.Combine(testDir.Replace("Flannel.Leases.Tests", "Flannel.Leases.Bench", StringComparison.Ordinal), "Flannel.Leases.Bench.dll"));
        Assert.True(File.Exists(dll), $"the bench/agent program is not built at {dll}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }
}
