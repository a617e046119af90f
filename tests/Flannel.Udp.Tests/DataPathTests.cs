using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Udp.Tests;

/// <summary>The udp backend across simulated hosts (network namespaces): real TUN devices, sockets and kernels.</summary>
public sealed class DataPathTests
{
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(20);

    [PrivilegedFact]
    public async Task Two_hosts_ping_and_stream_and_the_tun_goes_away_on_stop()
    {
        await using var lab = new Lab();
        var h1 = lab.AddHost(1);
        var h2 = lab.AddHost(2);
        await lab.StartUdpAsync(h1);
        await lab.StartUdpAsync(h2);
        await Lab.WaitAsync(() => h1.DataPath.Peers.Routes.Count == 1 && h2.DataPath.Peers.Routes.Count == 1, Converge, "peer tables");

        // The TUN is set up like flannel's: flannel0, lease address /32, MTU = 1500 - 28, route for the whole network.
        var link = h1.Ns.IpJson("addr", "show", "dev", "flannel0")[0];
        Assert.Equal(1472, link.GetProperty("mtu").GetInt32());
        var addr = link.GetProperty("addr_info")[0];
        Assert.Equal("10.244.1.0", addr.GetProperty("local").GetString());
        Assert.Equal(32, addr.GetProperty("prefixlen").GetInt32());
        var route = h1.Ns.IpJson("route", "show", "10.244.0.0/16");
        Assert.Equal("flannel0", route[0].GetProperty("dev").GetString());
        Assert.Equal(1472, h1.Network!.Mtu);
        Assert.Null(h1.Network.Lease.Attributes.BackendType);
        Assert.Null(h1.Network.Lease.Attributes.BackendData);

        Assert.True(Lab.Ping(h1, h2.Pod, Converge).Ok);
        Assert.True(Lab.Ping(h2, h1.Pod, Converge).Ok);
        Assert.Equal(4 << 20, await Lab.TcpTransferAsync(h1, h2, 4 << 20, TimeSpan.FromSeconds(60)));
        Assert.Equal(1 << 20, await Lab.TcpTransferAsync(h2, h1, 1 << 20, TimeSpan.FromSeconds(60)));
        Assert.True(h1.DataPath.Counters.EgressPackets > 0 && h2.DataPath.Counters.IngressPackets > 0);

        await h1.Stop.CancelAsync();
        await h1.Run!.WaitAsync(TimeSpan.FromSeconds(10));
        await h1.Network.TeardownAsync(CancellationToken.None);
        Assert.Equal(0, h1.Ns.IpJson("link", "show").EnumerateArray().Count(l => l.GetProperty("ifname").GetString() == "flannel0"));
    }

    [PrivilegedFact]
    public async Task Three_hosts_reach_each_other_and_a_removed_lease_gets_net_unreachable()
    {
        await using var lab = new Lab();
        var hosts = new[] { lab.AddHost(1), lab.AddHost(2), lab.AddHost(3) };
        foreach (var h in hosts)
        {
            await lab.StartUdpAsync(h);
        }

        await Lab.WaitAsync(() => hosts.All(h => h.DataPath.Peers.Routes.Count == 2), Converge, "peer tables");
        foreach (var a in hosts)
        {
            foreach (var b in hosts.Where(b => b != a))
            {
                var (ok, output) = Lab.Ping(a, b.Pod, Converge);
                Assert.True(ok, $"{a.Pod} -> {b.Pod}: {output}");
            }
        }

        await Lab.TcpTransferAsync(hosts[0], hosts[2], 2 << 20, TimeSpan.FromSeconds(60));
        await Lab.TcpTransferAsync(hosts[2], hosts[1], 2 << 20, TimeSpan.FromSeconds(60));

        // Host 3 goes away: its lease is removed, and host 1 answers for its subnet with ICMP net unreachable.
        Assert.True(await lab.Board.RemoveAsync(hosts[2].Subnet));
        await Lab.WaitAsync(() => hosts[0].DataPath.Peers.Routes.Count == 1, Converge, "lease removal reaches host 1");
        // The raw ICMP socket behind Ping reports the net-unreachable error either as a reply status or as ENETUNREACH.
        long icmpBefore = hosts[0].DataPath.Counters.IcmpSent;
        try
        {
            var reply = Lab.PingOnce(hosts[0], hosts[2].Pod, TimeSpan.FromSeconds(2));
            Assert.Equal(System.Net.NetworkInformation.IPStatus.DestinationNetworkUnreachable, reply.Status);
            Assert.Equal(IPAddress.Parse("10.244.1.0"), reply.Address);
        }
        catch (System.Net.NetworkInformation.PingException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.NetworkUnreachable })
        {
        }

        Assert.True(hosts[0].DataPath.Counters.IcmpSent > icmpBefore);
        Assert.Equal("1", hosts[0].Ns.Exec("sysctl", ["-n", "net.ipv4.conf.flannel0.accept_local"]).Stdout.Trim());
        Assert.True(Lab.Ping(hosts[0], hosts[1].Pod, Converge).Ok);
    }

    [PrivilegedFact]
    public async Task Interoperates_with_the_C_forwarder_in_both_directions_with_and_without_offloads()
    {
        var binary = Lab.BuildCForwarder();
        try
        {
            await using var lab = new Lab();
            var fast = lab.AddHost(1);
            var plain = lab.AddHost(2);
            var c = lab.AddHost(3);
            await lab.StartCForwarderAsync(c, binary, fast, plain);
            await lab.StartUdpAsync(fast);
            await lab.StartUdpAsync(plain, new UdpBackendOptions { Offloads = false });
            await Lab.WaitAsync(() => fast.DataPath.Peers.Routes.Count == 2 && plain.DataPath.Peers.Routes.Count == 2, Converge, "peer tables");
            foreach (var (a, b) in new[] { (fast, c), (c, fast), (plain, c), (c, plain), (fast, plain) })
            {
                var (ok, output) = Lab.Ping(a, b.Pod, Converge);
                Assert.True(ok, $"{a.Pod} -> {b.Pod}: {output}");
            }

            // Bulk TCP: our TSO-split segments must be plain packets the C peer writes as-is, and its packets must
            // survive our coalescing.
            await Lab.TcpTransferAsync(fast, c, 8 << 20, TimeSpan.FromSeconds(60));
            await Lab.TcpTransferAsync(c, fast, 8 << 20, TimeSpan.FromSeconds(60));
            await Lab.TcpTransferAsync(plain, c, 2 << 20, TimeSpan.FromSeconds(60));
            await Lab.TcpTransferAsync(c, plain, 2 << 20, TimeSpan.FromSeconds(60));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(binary)!, recursive: true);
        }
    }

    [PrivilegedFact]
    public async Task Hostile_datagrams_are_dropped_and_counted_and_never_reach_the_tun()
    {
        await using var lab = new Lab();
        var h1 = lab.AddHost(1);
        var h2 = lab.AddHost(2);
        await lab.StartUdpAsync(h1);
        await lab.StartUdpAsync(h2);
        await Lab.WaitAsync(() => h1.DataPath.Peers.Routes.Count == 1, Converge, "peer tables");
        Assert.True(Lab.Ping(h2, h1.Pod, Converge).Ok);

        var measured = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "Flannel.Udp" && i.Name == "flannel.udp.drops")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            string reason = string.Empty, dir = string.Empty;
            foreach (var t in tags)
            {
                if (t.Key == "reason")
                {
                    reason = (string)t.Value!;
                }
                else if (t.Key == "direction")
                {
                    dir = (string)t.Value!;
                }
            }

            if (dir == "ingress")
            {
                lock (measured)
                {
                    measured[reason] = measured.GetValueOrDefault(reason) + v;
                }
            }
        });
        listener.Start();

        var counters = h1.DataPath.Counters;
        long writesBefore = Volatile.Read(ref counters.TunWrites);
        long rxBefore = TunRxPackets(h1);
        var good = PacketBuilder.Ipv4(h2.Pod, h1.Pod, 17, new byte[16]);
        var cases = new (DropReason Reason, byte[] Datagram)[]
        {
            (DropReason.Truncated, good[..10]),
            (DropReason.Truncated, []),
            (DropReason.BadVersion, With(good, p => p[0] = 0x65)),
            (DropReason.BadHeaderLength, With(good, p => p[0] = 0x43)),
            (DropReason.LengthMismatch, With(good, p => { BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 200); FixIpChecksum(p); })),
            (DropReason.LengthMismatch, [.. good, 0, 0, 0]),
            (DropReason.BadChecksum, With(good, p => p[10] ^= 0x55)),
            (DropReason.TtlExpired, PacketBuilder.Ipv4(h2.Pod, h1.Pod, 17, new byte[16], ttl: 1)),
        };

        const int Burst = 50;
        using (var fromPeer = SocketIn(h2, h2.Underlay))
        {
            foreach (var (_, d) in cases)
            {
                for (int i = 0; i < Burst; i++)
                {
                    fromPeer.SendTo(d, new IPEndPoint(h1.Underlay, 8285));
                }
            }
        }

        // A well-formed packet from an address that is not a peer's public IP.
        lab.Lan.Ip("addr", "add", "198.18.0.99/24", "dev", "br0");
        using (var stranger = SocketIn(lab.Lan, IPAddress.Parse("198.18.0.99")))
        {
            for (int i = 0; i < Burst; i++)
            {
                stranger.SendTo(good, new IPEndPoint(h1.Underlay, 8285));
            }
        }

        var expected = cases.GroupBy(c => c.Reason).ToDictionary(g => g.Key, g => (long)g.Count() * Burst);
        expected[DropReason.UnknownSource] = Burst;
        await Lab.WaitAsync(() => expected.All(e => Volatile.Read(ref counters.IngressDrops[(int)e.Key]) == e.Value), TimeSpan.FromSeconds(10),
            $"drop counters: {counters}");

        Assert.Equal(writesBefore, Volatile.Read(ref counters.TunWrites));
        Assert.Equal(rxBefore, TunRxPackets(h1));

        listener.RecordObservableInstruments();
        foreach (var e in expected)
        {
            Assert.True(measured.GetValueOrDefault(DropReasons.Tag(e.Key)) >= e.Value, $"metric for {DropReasons.Tag(e.Key)}");
        }

        // The forwarder is alive and still forwards.
        Assert.True(Lab.Ping(h2, h1.Pod, Converge).Ok);
        Assert.False(h1.Run!.IsCompleted);
    }

    private static long TunRxPackets(Lab.Host h) =>
        h.Ns.IpJson("-s", "link", "show", "flannel0")[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();

    private static Socket SocketIn(Lab.Host h, IPAddress bind) => SocketIn(h.Ns, bind);

    private static Socket SocketIn(TestNamespace ns, IPAddress bind) => NetworkNamespace.Run(ns.Path, () =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(bind, 0));
        return s;
    });

    private static byte[] With(byte[] p, Action<byte[]> change)
    {
        var c = (byte[])p.Clone();
        change(c);
        return c;
    }

    private static void FixIpChecksum(byte[] p)
    {
        p[10] = 0;
        p[11] = 0;
        var ck = PacketBuilder.ReferenceChecksum(p.AsSpan(0, 20));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), ck);
    }
}
