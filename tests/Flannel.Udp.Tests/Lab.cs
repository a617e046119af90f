using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using Flannel.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.Udp.Tests;

/// <summary>
/// Simulated hosts for the privileged tests: a "lan" namespace with a bridge, and per host a namespace joined to it by
/// a veth (eth0, 198.18.0.N/24) with a "pod" address 10.244.N.1/24 on a port-less bridge cni0.
/// </summary>
internal sealed class Lab : IAsyncDisposable
{
    private readonly List<TestNamespace> _namespaces = [];
    private readonly List<Host> _hosts = [];
    private readonly List<Process> _processes = [];

    public Lab()
    {
        Lan = Track(TestNamespace.Create("lan"));
        Lan.Ip("link", "add", "br0", "type", "bridge");
        Lan.Ip("link", "set", "br0", "up");
    }

    public TestNamespace Lan { get; }

    public LeaseBoard Board { get; } = new();

    public sealed class Host
    {
        public required int N { get; init; }
        public required TestNamespace Ns { get; init; }
        public IPAddress Underlay => IPAddress.Parse($"198.18.0.{N}");
        public string Pod => $"10.244.{N}.1";
        public IPNetwork Subnet => IPNetwork.Parse($"10.244.{N}.0/24");
        public INetwork? Network { get; set; }
        public Task? Run { get; set; }
        public CancellationTokenSource Stop { get; } = new();
        public UdpDataPath DataPath => ((UdpNetwork)Network!).DataPath;
    }

    public Host AddHost(int n)
    {
        var ns = Track(TestNamespace.Create("h" + n));
        Shell.Check("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        Lan.Ip("link", "add", $"v{n}", "type", "veth", "peer", "name", "eth0", "netns", ns.Name);
        Lan.Ip("link", "set", $"v{n}", "master", "br0", "up");
        ns.Ip("addr", "add", $"198.18.0.{n}/24", "dev", "eth0");
        ns.Ip("link", "set", "eth0", "up");
        ns.Ip("link", "add", "cni0", "type", "bridge");
        ns.Ip("addr", "add", $"10.244.{n}.1/24", "dev", "cni0");
        ns.Ip("link", "set", "cni0", "up");
        var host = new Host { N = n, Ns = ns };
        _hosts.Add(host);
        return host;
    }

    /// <summary>Starts our udp backend on the host, registered in the shared board.</summary>
    public async Task StartUdpAsync(Host host, UdpBackendOptions? options = null)
    {
        var index = host.Ns.IpJson("link", "show", "eth0")[0].GetProperty("ifindex").GetInt32();
        var ctx = new BackendContext
        {
            SubnetManager = Board.ManagerFor(),
            Interface = new ExternalInterface { Name = "eth0", Index = index, Mtu = 1500, Address = host.Underlay },
            NetworkNamespacePath = host.Ns.Path,
            PreviousSubnet = host.Subnet,
            LoggerFactory = NullLoggerFactory.Instance,
        };
        var backend = new UdpBackendFactory(options).Create(ctx);
        var config = await ctx.SubnetManager.GetNetworkConfigAsync(CancellationToken.None);
        host.Network = await backend.RegisterNetworkAsync(config, CancellationToken.None);
        if (!host.Subnet.Equals(host.Network.Lease.Subnet))
        {
            throw new InvalidOperationException($"host {host.N} got {host.Network.Lease.Subnet}, wanted {host.Subnet}");
        }
        host.Run = host.Network.RunAsync(host.Stop.Token);
    }

    /// <summary>Starts the anchor's C forwarder (tunudp) on the host, as a foreign flannel-udp peer.</summary>
    public async Task StartCForwarderAsync(Host host, string binary, params Host[] peers)
    {
        host.Ns.Ip("tuntap", "add", "dev", "flannel0", "mode", "tun");
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", host.Ns.Name, binary, "-t", "flannel0", "-l", host.Underlay.ToString(), "-p", "8285" })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var p in peers)
        {
            psi.ArgumentList.Add("-r");
            psi.ArgumentList.Add($"{p.Subnet}={p.Underlay}");
        }

        var proc = Process.Start(psi)!;
        proc.BeginErrorReadLine();
        proc.BeginOutputReadLine();
        _processes.Add(proc);
        host.Ns.Ip("link", "set", "flannel0", "mtu", "1472", "up");
        host.Ns.Ip("addr", "add", $"10.244.{host.N}.0/16", "dev", "flannel0");
        await Board.PutAsync(host.Subnet, host.Underlay);
    }

    public static string BuildCForwarder()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fln-tunudp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(dir);
        var bin = Path.Combine(dir, "tunudp");
        Shell.Check("gcc", "-O2", "-o", bin, Path.Combine(AppContext.BaseDirectory, "Assets", "tunudp.c"));
        return bin;
    }

    /// <summary>Pings (ICMP echo from inside the host's namespace) until a reply comes or the time is up.</summary>
    public static (bool Ok, string Output) Ping(Host from, string dst, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        string last = string.Empty;
        while (sw.Elapsed < timeout)
        {
            try
            {
                var reply = PingOnce(from, dst, TimeSpan.FromSeconds(1));
                last = $"{reply.Status} from {reply.Address}";
                if (reply.Status == IPStatus.Success)
                {
                    return (true, last);
                }
            }
            catch (PingException ex)
            {
                last = $"{ex.InnerException?.Message ?? ex.Message}; routes: {from.Ns.Ip("route", "show")}";
            }

            Thread.Sleep(100);
        }

        return (false, last);
    }

    /// <summary>One ICMP echo from inside the host's namespace (the raw socket is created there).</summary>
    public static PingReply PingOnce(Host from, string dst, TimeSpan timeout) => NetworkNamespace.Run(from.Ns.Path, () =>
    {
        using var ping = new System.Net.NetworkInformation.Ping();
        return ping.Send(IPAddress.Parse(dst), (int)timeout.TotalMilliseconds);
    });

    public static async Task WaitAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout}: {what}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Streams <paramref name="bytes"/> random bytes over TCP from one pod address to another and checks they arrive intact.</summary>
    public static async Task<long> TcpTransferAsync(Host from, Host to, int bytes, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var listener = NetworkNamespace.Run(to.Ns.Path, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse(to.Pod), 0));
            s.Listen(1);
            return s;
        });
        using var _ = listener;
        var client = NetworkNamespace.Run(from.Ns.Path, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse(from.Pod), 0));
            return s;
        });
        using var __ = client;
        var data = RandomNumberGenerator.GetBytes(bytes);
        var receive = Task.Run(async () =>
        {
            using var conn = await listener.AcceptAsync(cts.Token);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buf = new byte[65536];
            long total = 0;
            int n;
            while ((n = await conn.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
            {
                sha.AppendData(buf, 0, n);
                total += n;
            }

            return (total, sha.GetHashAndReset());
        });
        await client.ConnectAsync(listener.LocalEndPoint!, cts.Token);
        for (int off = 0; off < data.Length; off += 65536)
        {
            await client.SendAsync(data.AsMemory(off, Math.Min(65536, data.Length - off)), SocketFlags.None, cts.Token);
        }

        client.Shutdown(SocketShutdown.Send);
        var (received, hash) = await receive;
        if (received != bytes || !hash.AsSpan().SequenceEqual(SHA256.HashData(data)))
        {
            throw new InvalidOperationException($"TCP transfer corrupted: sent {bytes}, received {received}");
        }

        return received;
    }

    private TestNamespace Track(TestNamespace ns)
    {
        _namespaces.Add(ns);
        return ns;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts)
        {
            await h.Stop.CancelAsync();
            if (h.Run is not null)
            {
                await h.Run.WaitAsync(TimeSpan.FromSeconds(10));
            }

            if (h.Network is not null)
            {
                await h.Network.DisposeAsync();
            }
        }

        foreach (var p in _processes)
        {
            try
            {
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }

        foreach (var ns in _namespaces)
        {
            ns.Dispose();
        }

        Board.Dispose();
    }
}
