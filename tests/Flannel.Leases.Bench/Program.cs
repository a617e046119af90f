using System.Globalization;
using System.Net;
using Flannel;
using Flannel.Leases.Bench;
using Flannel.Sqlite;

// Usage:
//   agent-sqlite <db> <agents> <agentBase>   acquire one lease per agent (in parallel, LeaseManager), print "OK <subnet> <ip> <lost rounds>" or "ERR <ip> <exception> <message>"
//   churn-sqlite <db> <id>                              write forever (update/delete/create); the tests kill it mid-write
//   bench [sqlite|etcd <endpoint>] ...                  see Bench.cs
//   bench-share [--leases N] [--readers N] [--rounds N] see ShareBench.cs (etcd: allocation of several readers)
var cmd = args.Length > 0 ? args[0] : "bench";
switch (cmd)
{
    case "agent-sqlite":
    {
        // The network configuration must already be in the database.
        var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = args[1] });
        var agents = int.Parse(args[2], CultureInfo.InvariantCulture);
        var baseId = int.Parse(args[3], CultureInfo.InvariantCulture);
        var tasks = Enumerable.Range(0, agents).Select(async i =>
        {
            var ip = new IPAddress([198, 18, (byte)((baseId + i) >> 8), (byte)(baseId + i)]);
            try
            {
                var (lease, lost) = await Agent.AcquireAsync(new LeaseManager(registry), new LeaseRequest(new LeaseAttributes { PublicIP = ip, BackendType = "host-gw" }), CancellationToken.None);
                return $"OK {lease.Subnet} {ip} {lost}";
            }
            catch (FlannelException ex)
            {
                return $"ERR {ip} {ex.GetType().Name} {ex.Message}";
            }
        }).ToList();
        foreach (var line in await Task.WhenAll(tasks))
        {
            Console.WriteLine(line);
        }

        return 0;
    }

    case "churn-sqlite":
    {
        var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = args[1] });
        var id = int.Parse(args[2], CultureInfo.InvariantCulture);
        Console.WriteLine("READY");
        for (var n = 0; ; n++)
        {
            var subnet = new IPNetwork(new IPAddress([10, 9, (byte)id, 0]), 24);
            var lease = new Lease { Subnet = subnet, Attributes = new LeaseAttributes { PublicIP = new IPAddress([198, 18, 1, (byte)id]) } };
            try
            {
                switch (n % 3)
                {
                    case 0: await registry.CreateAsync(lease, TimeSpan.FromHours(1), CancellationToken.None); break;
                    case 1: await registry.UpdateAsync(lease, TimeSpan.FromHours(2), CancellationToken.None); break;
                    default: await registry.DeleteAsync(subnet, null, CancellationToken.None); break;
                }
            }
            catch (FlannelException ex) when (ex.IsTransient)
            {
                Console.Error.WriteLine($"transient: {ex.Message}"); // another writer held the lock too long; go on
            }
        }
    }

    case "bench-share":
        return await ShareBench.RunAsync(args);

    default:
        return await Bench.RunAsync(args);
}
