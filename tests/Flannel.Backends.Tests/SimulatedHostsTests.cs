using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>The multi-host harness itself: with routes programmed by hand (iproute2), pods reach each other.</summary>
public sealed class SimulatedHostsTests
{
    [PrivilegedFact]
    public void Pods_on_one_segment_reach_each_other_with_hand_made_routes_and_cleanup_leaves_nothing()
    {
        string[] names;
        using (var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [3], IPv6 = true }))
        {
            names = [lab.Underlay.Name, .. lab.Hosts.Select(h => h.Namespace.Name)];
            for (var i = 0; i < lab.Hosts.Count; i++)
            {
                lab.Hosts[i].AddPod(IPNetwork.Parse($"10.244.{i + 1}.0/24"), IPNetwork.Parse($"fd10:244:0:{i + 1}::/64"));
            }

            foreach (var h in lab.Hosts)
            {
                for (var j = 0; j < lab.Hosts.Count; j++)
                {
                    var peer = lab.Hosts[j];
                    if (peer != h)
                    {
                        h.Namespace.Ip("route", "add", $"10.244.{j + 1}.0/24", "via", peer.Address.ToString(), "dev", "eth0");
                        h.Namespace.Ip("-6", "route", "add", $"fd10:244:0:{j + 1}::/64", "via", peer.IPv6Address!.ToString(), "dev", "eth0");
                    }
                }
            }

            foreach (var a in lab.Hosts)
            {
                foreach (var b in lab.Hosts.Where(b => b != a))
                {
                    Assert.True(a.Pod!.Ping(b.Pod!.Address), $"{a} pod -> {b} pod (IPv4)");
                    Assert.True(a.Pod!.Ping(b.Pod!.IPv6Address!), $"{a} pod -> {b} pod (IPv6)");
                }
            }

            // Without a route there is no reply (the oracle is not trivially true).
            lab.Hosts[0].Namespace.Ip("route", "del", "10.244.2.0/24");
            Assert.False(lab.Hosts[0].Pod!.PingOnce(lab.Hosts[1].Pod!.Address, TimeSpan.FromMilliseconds(300)));
        }

        var left = Shell.Check("ip", "netns", "list");
        foreach (var n in names)
        {
            Assert.DoesNotContain(n, left, StringComparison.Ordinal);
        }
    }

    [PrivilegedFact]
    public void Two_segments_are_joined_by_the_router()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1, 1] });
        var (a, b) = (lab.Hosts[0], lab.Hosts[1]);
        Assert.Equal("198.18.0.1", a.Address.ToString());
        Assert.Equal("198.18.1.1", b.Address.ToString());
        a.AddPod(IPNetwork.Parse("10.244.1.0/24"));
        b.AddPod(IPNetwork.Parse("10.244.2.0/24"));

        // A host route between segments works through the router (an encapsulated path would too); pod routes need a tunnel.
        using var pinger = Pinger.Open(a.Namespace.Path);
        Assert.True(pinger.WaitForReply(b.Address, TimeSpan.FromSeconds(5)));
        var get = a.Namespace.IpJson("route", "get", b.Address.ToString());
        Assert.Equal("198.18.0.254", get[0].GetProperty("gateway").GetString());
    }
}
