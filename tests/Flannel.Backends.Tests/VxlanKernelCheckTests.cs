using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Flannel.Netlink;
using Flannel.TestKit;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>
/// The in-place check the periodic vxlan reconcile runs (<see cref="VxlanKernelCheck"/>) against the real kernel: on
/// every kernel state it must agree with the full diff (observe as objects, <see cref="VxlanPlanner.Diff"/>) about
/// whether there is anything to do — otherwise the periodic safety net would miss drift, or never rest.
/// </summary>
[Trait("Category", "Privileged")]
public class VxlanKernelCheckTests
{
    private const RouteProtocol Ours = (RouteProtocol)70;
    private static readonly IPNetwork Overlay = IPNetwork.Parse("10.244.0.0/16");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, bool> Drifts => new()
    {
        { "none", true },
        { "neighbour has another MAC", false },
        { "neighbour deleted", false },
        { "extra permanent neighbour on the device", false },
        { "non-permanent neighbour on the device", true },
        { "FDB entry points elsewhere", false },
        { "FDB entry deleted", false },
        { "extra permanent FDB entry", false },
        { "route replaced by one via the underlay", false },
        { "route replaced by one via the underlay with our protocol", false },
        { "route deleted", false },
        { "extra route in the overlay on the device", false },
        { "someone else's route in the overlay elsewhere", true },
        { "route outside the overlay on the device", true },
        { "the kernel's prefix route of an address on the device", true },
        { "route deleted while another peer's is duplicated at a higher metric", false },
    };

    [PrivilegedTheory]
    [MemberData(nameof(Drifts))]
    public async Task The_in_place_check_agrees_with_the_full_diff(string drift, bool clean)
    {
        using var ns = TestNamespace.Create("vxcheck");
        ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
        ns.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        ns.Ip("link", "set", "eth0", "up");
        ns.Ip("link", "set", "eth0p", "up");
        ns.Ip("link", "add", "flannel.1", "type", "vxlan", "id", "1", "dev", "eth0", "dstport", "8472", "nolearning");
        ns.Ip("link", "set", "flannel.1", "up");
        var plans = new Dictionary<IPNetwork, PeerPlan>();
        for (var i = 1; i <= 3; i++)
        {
            var subnet = IPNetwork.Parse($"10.244.{i}.0/24");
            var vtep = subnet.BaseAddress;
            var mac = PhysicalAddress.Parse($"02-aa-00-00-00-0{i}");
            var underlay = IPAddress.Parse($"198.18.0.{10 + i}");
            plans[subnet] = new PeerPlan(subnet, new NeighborEntry(vtep, mac), new Flannel.Vxlan.FdbEntry(mac, underlay), new PeerRoute(subnet, vtep, Direct: false));
            ns.Ip("neigh", "replace", vtep.ToString(), "lladdr", $"02:aa:00:00:00:0{i}", "dev", "flannel.1", "nud", "permanent");
            Shell.Check("bridge", ["-n", ns.Name, "fdb", "replace", $"02:aa:00:00:00:0{i}", "dev", "flannel.1", "dst", underlay.ToString(), "self", "permanent"]);
            ns.Ip("route", "replace", subnet.ToString(), "via", vtep.ToString(), "dev", "flannel.1", "onlink", "proto", "70");
        }

        switch (drift)
        {
            case "neighbour has another MAC": ns.Ip("neigh", "replace", "10.244.2.0", "lladdr", "02:bb:00:00:00:02", "dev", "flannel.1", "nud", "permanent"); break;
            case "neighbour deleted": ns.Ip("neigh", "del", "10.244.2.0", "dev", "flannel.1"); break;
            case "extra permanent neighbour on the device": ns.Ip("neigh", "add", "10.244.9.0", "lladdr", "02:aa:00:00:00:09", "dev", "flannel.1", "nud", "permanent"); break;
            case "non-permanent neighbour on the device": ns.Ip("neigh", "add", "10.244.9.0", "lladdr", "02:aa:00:00:00:09", "dev", "flannel.1", "nud", "reachable"); break;
            case "FDB entry points elsewhere": Shell.Check("bridge", ["-n", ns.Name, "fdb", "replace", "02:aa:00:00:00:02", "dev", "flannel.1", "dst", "198.18.0.99", "self", "permanent"]); break;
            case "FDB entry deleted": Shell.Check("bridge", ["-n", ns.Name, "fdb", "del", "02:aa:00:00:00:02", "dev", "flannel.1", "dst", "198.18.0.12", "self"]); break;
            case "extra permanent FDB entry": Shell.Check("bridge", ["-n", ns.Name, "fdb", "append", "02:aa:00:00:00:09", "dev", "flannel.1", "dst", "198.18.0.19", "self", "permanent"]); break;
            case "route replaced by one via the underlay": ns.Ip("route", "replace", "10.244.2.0/24", "via", "198.18.0.7", "dev", "eth0"); break;
            case "route replaced by one via the underlay with our protocol": ns.Ip("route", "replace", "10.244.2.0/24", "via", "198.18.0.7", "dev", "eth0", "proto", "70"); break;
            case "route deleted": ns.Ip("route", "del", "10.244.2.0/24"); break;
            case "extra route in the overlay on the device": ns.Ip("route", "add", "10.244.9.0/24", "dev", "flannel.1"); break;
            case "someone else's route in the overlay elsewhere": ns.Ip("route", "add", "10.244.9.0/24", "via", "198.18.0.7", "dev", "eth0"); break;
            case "route outside the overlay on the device": ns.Ip("route", "add", "10.99.0.0/24", "via", "10.244.1.0", "dev", "flannel.1", "onlink", "proto", "70"); break;
            case "the kernel's prefix route of an address on the device": ns.Ip("addr", "add", "10.244.0.0/24", "dev", "flannel.1"); break;
            case "route deleted while another peer's is duplicated at a higher metric":
                ns.Ip("route", "del", "10.244.2.0/24");
                ns.Ip("route", "add", "10.244.3.0/24", "via", "10.244.3.0", "dev", "flannel.1", "onlink", "proto", "70", "metric", "100");
                break;
        }

        using var handle = NetworkNamespace.OpenByName(ns.Name);
        await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = handle });
        var index = (await rtnl.Links.GetAsync("flannel.1", Ct))!.Index;

        var check = new VxlanKernelCheck(Overlay, 4, Ours);
        check.Reset(index, new ExpectedKernelState(plans));
        await rtnl.Neighbors.VisitAsync(index, AddressFamily.InterNetwork, check, Ct);
        await rtnl.Fdb.VisitAsync(index, check, Ct);
        await rtnl.Routes.VisitAsync(new RouteFilter { Family = AddressFamily.InterNetwork, Table = RouteTables.Main }, check, Ct);

        var observed = await VxlanKernelCheck.ObserveAsync(rtnl, index, AddressFamily.InterNetwork, Overlay, Ours, Ct);
        var diff = VxlanPlanner.Diff(plans.Values, observed);
        Assert.Equal(clean, diff.IsEmpty);
        Assert.True(clean == check.Matches(), $"{drift}: the full diff says {(diff.IsEmpty ? "clean" : "dirty")}, the in-place check {check.Mismatch ?? "clean"}");
    }

    [Fact]
    public void Keys_read_wire_bytes_and_objects_alike()
    {
        Assert.Equal(KernelKeys.Address(IPAddress.Parse("10.244.3.0")), KernelKeys.Address([10, 244, 3, 0]));
        Assert.Equal(KernelKeys.Address(IPAddress.Parse("fd00::1:2")), KernelKeys.Address(IPAddress.Parse("fd00::1:2").GetAddressBytes()));
        Assert.NotEqual(KernelKeys.Address(IPAddress.Parse("10.244.3.0")), KernelKeys.Address(IPAddress.Parse("10.244.3.1")));
        Assert.Equal(KernelKeys.Mac(PhysicalAddress.Parse("02-aa-00-00-00-09")), KernelKeys.Mac([0x02, 0xaa, 0, 0, 0, 9]));
        Assert.Equal(KernelKeys.NoMac, KernelKeys.Mac([1, 2, 3]));
        Assert.Equal((UInt128)0xFFFF0000, KernelKeys.PrefixMask(32, 16));
        Assert.Equal(UInt128.Zero, KernelKeys.PrefixMask(32, 0));
        Assert.Equal((UInt128)0xFFFFFFFF, KernelKeys.PrefixMask(32, 32));
        Assert.Equal(UInt128.MaxValue, KernelKeys.PrefixMask(128, 128));
        Assert.Equal(UInt128.MaxValue << 64, KernelKeys.PrefixMask(128, 64));
    }
}
