using System.Diagnostics;
using System.Net;
using System.Text;
using Flannel.Etcd;
using Flannel.TestKit;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>etcd outages and compaction under running watchers and renewals; each test owns its etcd.</summary>
public sealed class EtcdFaultTests
{
    private const string Prefix = "/coreos.com/network";

    [Fact]
    public async Task Outage_of_30_seconds_loses_nothing_and_renewals_retry()
    {
        await using var server = await EtcdServer.StartAsync();
        var log = new FakeLogger<EtcdLeaseRegistry>();
        var options = new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Prefix = Prefix, RequestTimeout = TimeSpan.FromSeconds(2) };
        using var node = new EtcdLeaseRegistry(options, log);
        using var other = new EtcdLeaseRegistry(options);

        var own = await node.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(24), L.Timeout());
        await other.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(24), L.Timeout());
        await using var watcher = new WatchRecorder(node, await node.ListAsync(L.Timeout()));

        // A renewal loop as the daemon runs it (here every 500 ms instead of 23 h): transient failures are retried.
        using var stopRenewing = new CancellationTokenSource();
        var failures = new List<FlannelException>();
        var renewedAfterOutage = new TaskCompletionSource();
        var outageOver = false;
        var renewer = Task.Run(async () =>
        {
            var lease = own!;
            while (!stopRenewing.IsCancellationRequested)
            {
                try
                {
                    lease = await node.UpdateAsync(lease, TimeSpan.FromHours(24), stopRenewing.Token);
                    if (Volatile.Read(ref outageOver))
                    {
                        renewedAfterOutage.TrySetResult();
                    }
                }
                catch (FlannelException ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex);
                    }
                }
                catch (OperationCanceledException) when (stopRenewing.IsCancellationRequested)
                {
                    return;
                }

                await Task.Delay(500, CancellationToken.None);
            }
        }, TestContext.Current.CancellationToken);

        await other.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), TimeSpan.FromHours(24), L.Timeout());
        await watcher.WaitUntil(x => x.State.ContainsKey((L.Net("10.5.3.0/24"), null)), "the event before the outage");

        server.Stop();
        var down = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<FlannelException>(() => other.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), TimeSpan.FromHours(24), L.Timeout()).AsTask());
        Assert.True(ex.IsTransient, ex.ToString());
        await Task.Delay(TimeSpan.FromSeconds(30) - down.Elapsed, TestContext.Current.CancellationToken);

        await server.RestartAsync();
        Volatile.Write(ref outageOver, true);

        // Changes right after the restart reach the watcher, which resumed without a snapshot.
        await other.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), TimeSpan.FromHours(24), L.Timeout());
        await other.DeleteAsync(L.Net("10.5.2.0/24"), null, L.Timeout());
        await other.UpdateAsync(L.Make("10.5.3.0/24", "198.18.0.33"), TimeSpan.FromHours(24), L.Timeout());
        await renewedAfterOutage.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var final = await other.ListAsync(L.Timeout());
        await watcher.WaitUntil(x => x.Revision >= final.Revision, "the watcher to catch up");
        await stopRenewing.CancelAsync();
        await renewer;

        var store = (await other.ListAsync(L.Timeout())).Leases.Select(l => $"{l.Subnet} {l.Attributes.PublicIP}").Order().ToList();
        Assert.Equal(["10.5.1.0/24 198.18.0.1", "10.5.3.0/24 198.18.0.33", "10.5.4.0/24 198.18.0.4"], store);
        Assert.Equal(store, watcher.State.Values.Select(l => $"{l.Subnet} {l.Attributes.PublicIP}").Order().ToList());
        Assert.DoesNotContain(watcher.All, r => r.IsSnapshot);
        Assert.False(watcher.Completion.IsCompleted);

        Assert.NotEmpty(failures);
        Assert.All(failures, f => Assert.True(f.IsTransient, f.ToString()));
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Id.Id == 5001); // the watch reported its reconnect attempts
        var ownLease = (await other.ListAsync(L.Timeout())).Leases.Single(l => l.Subnet == L.Net("10.5.1.0/24"));
        Assert.InRange(ownLease.Expiration!.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));
    }

    [Fact]
    public async Task Compaction_while_the_watcher_is_disconnected_gives_a_snapshot_and_it_resumes()
    {
        await using var server = await EtcdServer.StartAsync();
        var log = new FakeLogger<EtcdLeaseRegistry>();
        // A long reconnect delay leaves a window to change and compact the store before the watcher comes back.
        var options = new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Prefix = Prefix, ReconnectMinDelay = TimeSpan.FromSeconds(5), ReconnectMaxDelay = TimeSpan.FromSeconds(5) };
        using var r = new EtcdLeaseRegistry(options, log);
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(24), L.Timeout());
        await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(24), L.Timeout());
        await using var watcher = new WatchRecorder(r, await r.ListAsync(L.Timeout()));
        await r.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), TimeSpan.FromHours(24), L.Timeout());
        await watcher.WaitUntil(x => x.State.Count == 3, "the first event");

        server.Stop();
        await server.RestartAsync();
        using var writer = new EtcdLeaseRegistry(options with { ReconnectMinDelay = TimeSpan.FromMilliseconds(100) });
        await writer.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await writer.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), TimeSpan.FromHours(24), L.Timeout());
        await writer.UpdateAsync(L.Make("10.5.2.0/24", "198.18.0.22"), TimeSpan.FromHours(24), L.Timeout());
        await server.CompactAsync();

        await watcher.WaitUntil(x => x.All.Any(res => res.IsSnapshot), "the resync snapshot", seconds: 60);
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Id.Id == 5002);
        await writer.CreateAsync(L.Make("10.5.5.0/24", "198.18.0.5"), TimeSpan.FromHours(24), L.Timeout());
        var final = await writer.ListAsync(L.Timeout());
        await watcher.WaitUntil(x => x.Revision >= final.Revision, "the event after the snapshot");
        Assert.Equal(
            final.Leases.Select(l => $"{l.Subnet} {l.Attributes.PublicIP}").Order().ToList(),
            watcher.State.Values.Select(l => $"{l.Subnet} {l.Attributes.PublicIP}").Order().ToList());
        Assert.Equal(4, final.Leases.Count);
    }

    [Fact]
    public async Task Watch_survives_a_store_that_went_away_and_came_back_empty()
    {
        await using var server = await EtcdServer.StartAsync();
        using var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Prefix = Prefix });
        for (var i = 1; i <= 5; i++)
        {
            await r.CreateAsync(L.Make($"10.5.{i}.0/24", "198.18.0.1"), TimeSpan.FromHours(24), L.Timeout());
        }

        await using var watcher = new WatchRecorder(r, await r.ListAsync(L.Timeout()));
        server.Stop();
        Directory.Delete(server.DataDirectory, recursive: true); // the store lost everything (a new cluster)
        await server.RestartAsync();
        await server.PutRawAsync(Prefix + "/subnets/10.5.9.0-24", Encoding.UTF8.GetBytes("""{"PublicIP":"198.18.0.9","PublicIPv6":null}"""));
        await watcher.WaitUntil(x => x.All.Any(res => res.IsSnapshot), "the resync snapshot", seconds: 60);
        await watcher.WaitUntil(x => x.State.Count == 1, "the state of the new store");
        Assert.Equal(IPAddress.Parse("198.18.0.9"), watcher.State.Values.Single().Attributes.PublicIP);
    }
}

/// <summary>etcd with authentication enabled (a dedicated server, since auth changes it for every client).</summary>
public sealed class EtcdAuthTests
{
    [Fact]
    public async Task Username_and_password_authenticate_and_a_wrong_password_is_a_clear_error()
    {
        await using var server = await EtcdServer.StartAsync();
        using (var http = new HttpClient())
        {
            foreach (var (path, body) in new[]
            {
                ("/v3/auth/role/add", """{"name":"root"}"""),
                ("/v3/auth/user/add", """{"name":"root","password":"rootpw"}"""),
                ("/v3/auth/user/grant", """{"user":"root","role":"root"}"""),
                ("/v3/auth/enable", "{}"),
            })
            {
                using var resp = await http.PostAsync(server.Endpoint + path, new StringContent(body), TestContext.Current.CancellationToken);
                Assert.True(resp.IsSuccessStatusCode, $"{path}: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
            }
        }

        using var good = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Username = "root", Password = "rootpw" });
        Assert.NotNull(await good.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout()));
        Assert.Single((await good.ListAsync(L.Timeout())).Leases);

        using var bad = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Username = "root", Password = "wrong" });
        var ex = await Assert.ThrowsAnyAsync<FlannelException>(() => bad.ListAsync(L.Timeout()).AsTask());
        Assert.Contains("authentication as root failed", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsTransient);

        using var anonymous = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint] });
        var ex2 = await Assert.ThrowsAnyAsync<FlannelException>(() => anonymous.ListAsync(L.Timeout()).AsTask());
        Assert.Contains("etcd list", ex2.Message, StringComparison.Ordinal);
    }
}

/// <summary>etcd serving TLS only, with client certificates required.</summary>
public sealed class EtcdTlsTests
{
    [Fact]
    public async Task Tls_with_a_client_certificate_works_and_a_missing_one_is_rejected()
    {
        var dir = Directory.CreateTempSubdirectory("fln-tls-").FullName;
        try
        {
            var tls = EtcdTlsFiles.Create(dir);
            await using var server = await EtcdServer.StartAsync(tls);
            Assert.StartsWith("https://", server.Endpoint, StringComparison.Ordinal);

            using var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], CaFile = tls.CaFile, CertFile = tls.ClientCertFile, KeyFile = tls.ClientKeyFile });
            Assert.NotNull(await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout()));
            var start = await r.ListAsync(L.Timeout());
            Assert.Single(start.Leases);
            await using (var w = new WatchRecorder(r, start))
            {
                await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout());
                await w.WaitUntil(x => x.State.Count == 2, "the event over TLS");
            }

            Assert.NotNull(await server.GetRawAsync("/coreos.com/network/subnets/10.5.2.0-24"));

            using var noCert = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], CaFile = tls.CaFile, RequestTimeout = TimeSpan.FromSeconds(3) });
            await Assert.ThrowsAnyAsync<FlannelException>(() => noCert.ListAsync(L.Timeout()).AsTask());

            var missing = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], CaFile = Path.Combine(dir, "nope.pem") }));
            Assert.Contains("nope.pem", missing.Message, StringComparison.Ordinal);
            Assert.Equal(("CaFile", Path.Combine(dir, "nope.pem")), (missing.Field, missing.Value));

            // The error names the one file that is wrong, not all three.
            var noKey = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], CaFile = tls.CaFile, CertFile = tls.ClientCertFile, KeyFile = Path.Combine(dir, "nokey.pem") }));
            Assert.Equal($"KeyFile: invalid value \"{Path.Combine(dir, "nokey.pem")}\": cannot load the etcd TLS client certificate and key: no such file", noKey.Message);
            var notPem = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], CertFile = tls.CaFile + ".missing", KeyFile = tls.ClientKeyFile }));
            Assert.Equal(("CertFile", tls.CaFile + ".missing"), (notPem.Field, notPem.Value));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
