using Flannel.Etcd;
using Flannel.Sqlite;
using Flannel.TestKit;
using Microsoft.Data.Sqlite;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>Flannel.Core's store contract (raw SPI and LeaseManager semantics) on the SQLite store, real clock.</summary>
public sealed class SqliteSharedContractTests : LeaseRegistryContract, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fln-sqlite-").FullName;
    private readonly List<SqliteLeaseRegistry> _opened = [];

    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(1);

    protected override async Task<ILeaseRegistry> CreateRegistryAsync(NetworkConfig config)
    {
        var r = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".db"), PollInterval = TimeSpan.FromMilliseconds(50) });
        _opened.Add(r);
        await r.SetNetworkConfigAsync(config, Token());
        return r;
    }

    public void Dispose()
    {
        foreach (var r in _opened)
        {
            r.Dispose();
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>Flannel.Core's store contract on a real etcd; each test gets its own key prefix.</summary>
public sealed class EtcdSharedContractTests(EtcdFixture etcd) : LeaseRegistryContract, IClassFixture<EtcdFixture>, IDisposable
{
    private readonly List<EtcdLeaseRegistry> _opened = [];

    protected override async Task<ILeaseRegistry> CreateRegistryAsync(NetworkConfig config)
    {
        var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [etcd.Server.Endpoint], Prefix = "/fln-" + Guid.NewGuid().ToString("N")[..8] + "/coreos.com/network" });
        _opened.Add(r);
        await r.SetNetworkConfigAsync(config, Token());
        return r;
    }

    public void Dispose()
    {
        foreach (var r in _opened)
        {
            r.Dispose();
        }
    }
}
