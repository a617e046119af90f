using System.Globalization;
using System.Net;
using Flannel;
using Flannel.Leases.Bench;
using Flannel.Sqlite;

// Usage:
//   agent-sqlite <db> <agents> <agentBase> <poolSize>   acquire one lease per agent (in parallel), print "OK <subnet>" per agent
//   churn-sqlite <db> <id>                              write forever (update/delete/create); the tests kill it mid-write
//   bench [sqlite|etcd <endpoint>] ...                  see Bench.cs
var cmd = args.Length > 0 ? args[0] : "bench";
switch (cmd)
{
    case "agent-sqlite":
    {
        var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = args[1] });
        var agents = int.Parse(args[2], CultureInfo.InvariantCulture);
        var baseId = int.Parse(args[3], CultureInfo.InvariantCulture);
        var pool = MiniAllocator.Pool(7, int.Parse(args[4], CultureInfo.InvariantCulture));
        var tasks = Enumerable.Range(0, agents).Select(async i =>
        {
            var ip = new IPAddress([198, 18, (byte)((baseId + i) >> 8), (byte)(baseId + i)]);
            try
            {
                var lease = await MiniAllocator.AcquireAsync(registry, pool, ip, TimeSpan.FromHours(24), CancellationToken.None);
                return $"OK {lease.Subnet} {ip}";
            }
            catch (FlannelException ex)
            {
                return $"ERR {ip} {ex.Message}";
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
            switch (n % 3)
            {
                case 0: await registry.CreateAsync(lease, TimeSpan.FromHours(1), CancellationToken.None); break;
                case 1: await registry.UpdateAsync(lease, TimeSpan.FromHours(2), CancellationToken.None); break;
                default: await registry.DeleteAsync(subnet, null, CancellationToken.None); break;
            }
        }
    }

    default:
        return await Bench.RunAsync(args);
}
