using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Backends.Tests;

public sealed class VxlanPlannerTests
{
    private static readonly PhysicalAddress MacA = PhysicalAddress.Parse("0a:00:00:00:00:01");
    private static readonly PhysicalAddress MacB = PhysicalAddress.Parse("0a:00:00:00:00:02");

    private static Lease Peer(string subnet, string publicIP, PhysicalAddress? mac, string type = "vxlan", string? v6 = null, string? public6 = null) => new()
    {
        Subnet = IPNetwork.Parse(subnet),
        IPv6Subnet = v6 is null ? null : IPNetwork.Parse(v6),
        Attributes = new LeaseAttributes
        {
            PublicIP = IPAddress.Parse(publicIP),
            PublicIPv6 = public6 is null ? null : IPAddress.Parse(public6),
            BackendType = type,
            BackendData = mac is null ? null : VtepData.Create(1, mac),
            BackendV6Data = mac is null || v6 is null ? null : VtepData.Create(1, mac),
        },
    };

    [Fact]
    public void Vtep_data_is_flannels_wire_form()
    {
        var data = VtepData.Create(7, PhysicalAddress.Parse("0A-1B-2C-3D-4E-5F"));
        Assert.Equal("""{"VNI":7,"VtepMAC":"0a:1b:2c:3d:4e:5f"}""", data.GetRawText());
        Assert.Equal(PhysicalAddress.Parse("0A-1B-2C-3D-4E-5F"), VtepData.TryReadMac(data, out _));
    }

    [Theory]
    [InlineData("c6:d2:32:6f:8f:44")]
    [InlineData("C6:D2:32:6F:8F:44")]
    [InlineData("c6-d2-32-6f-8f-44")]
    [InlineData("c6d2.326f.8f44")]
    [InlineData("C6D2.326F.8F44")]
    public void Vtep_mac_accepts_every_form_gos_ParseMAC_reads(string text)
    {
        // Go nodes program leases whose VtepMAC net.ParseMAC accepts; hand-written or tool-written leases use these forms.
        var data = JsonDocument.Parse($$"""{"VNI":1,"VtepMAC":"{{text}}"}""").RootElement.Clone();
        Assert.Equal(PhysicalAddress.Parse("C6-D2-32-6F-8F-44"), VtepData.TryReadMac(data, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("c6:d2-32:6f:8f:44")]
    [InlineData("c6:d2:32:6f:8f")]
    [InlineData("c6:d2:32:6f:8f:4")]
    [InlineData("c6d2.326f-8f44")]
    [InlineData("c6d2326f8f44")]
    [InlineData("+6:d2:32:6f:8f:44")]
    [InlineData(" c6:d2:32:6f:8f:4")]
    [InlineData("00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01")]
    public void Vtep_mac_rejects_what_is_not_a_6_byte_mac(string text) =>
        Assert.False(VtepData.TryParseMac(text, out _));

    [Theory]
    [InlineData(null, "no backend data")]
    [InlineData("""{"VNI":1}""", "no VtepMAC")]
    [InlineData("""{"VNI":1,"VtepMAC":"zz:00:00:00:00:00"}""", "not a MAC")]
    [InlineData("""{"VNI":1,"VtepMAC":17}""", "not a MAC")]
    [InlineData("[]", "not an object")]
    public void Bad_vtep_data_is_reported_not_thrown(string? json, string expected)
    {
        JsonElement? data = json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
        Assert.Null(VtepData.TryReadMac(data, out var problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void New_macs_are_unicast_and_locally_administered()
    {
        for (var i = 0; i < 50; i++)
        {
            var b = VtepData.NewMac().GetAddressBytes();
            Assert.Equal(0, b[0] & 1);
            Assert.Equal(2, b[0] & 2);
        }
    }

    [Fact]
    public void A_peer_gets_neighbour_fdb_and_onlink_route()
    {
        var plan = VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA), AddressFamily.InterNetwork, false, _ => true, out var skip);
        Assert.Null(skip);
        Assert.NotNull(plan);
        Assert.Equal(new NeighborEntry(IPAddress.Parse("10.244.3.0"), MacA), plan.Neighbor);
        Assert.Equal(new FdbEntry(MacA, IPAddress.Parse("198.18.0.3")), plan.Fdb);
        Assert.Equal(new PeerRoute(IPNetwork.Parse("10.244.3.0/24"), IPAddress.Parse("10.244.3.0"), false), plan.Route);
    }

    [Fact]
    public void Direct_routing_uses_the_public_ip_when_it_is_on_link()
    {
        var lease = Peer("10.244.3.0/24", "198.18.0.3", MacA);
        var direct = VxlanPlanner.Plan(lease, AddressFamily.InterNetwork, true, _ => true, out _)!;
        Assert.Null(direct.Neighbor);
        Assert.Null(direct.Fdb);
        Assert.Equal(new PeerRoute(IPNetwork.Parse("10.244.3.0/24"), IPAddress.Parse("198.18.0.3"), true), direct.Route);
        var routed = VxlanPlanner.Plan(lease, AddressFamily.InterNetwork, true, _ => false, out _)!;
        Assert.NotNull(routed.Fdb);
    }

    [Fact]
    public void Foreign_and_broken_leases_are_skipped_with_a_reason()
    {
        Assert.Null(VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA, "host-gw"), AddressFamily.InterNetwork, false, _ => false, out var s1));
        Assert.Contains("host-gw", s1, StringComparison.Ordinal);
        Assert.Null(VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", null), AddressFamily.InterNetwork, false, _ => false, out var s2));
        Assert.Contains("BackendData", s2, StringComparison.Ordinal);
        Assert.Null(VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA), AddressFamily.InterNetworkV6, false, _ => false, out var s3));
        Assert.Null(s3);
    }

    [Fact]
    public void Ipv6_uses_the_v6_subnet_public_ip_and_data()
    {
        var lease = Peer("10.244.3.0/24", "198.18.0.3", MacB, v6: "fd10::/64", public6: "fd00::3");
        var plan = VxlanPlanner.Plan(lease, AddressFamily.InterNetworkV6, false, _ => false, out _)!;
        Assert.Equal(new FdbEntry(MacB, IPAddress.Parse("fd00::3")), plan.Fdb);
        Assert.Equal(IPAddress.Parse("fd10::"), plan.Neighbor!.Value.Address);
    }

    [Fact]
    public void Diff_programs_what_is_missing_and_deletes_orphans()
    {
        var p3 = VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA), AddressFamily.InterNetwork, false, _ => false, out _)!;
        var p4 = VxlanPlanner.Plan(Peer("10.244.4.0/24", "198.18.0.4", MacB), AddressFamily.InterNetwork, false, _ => false, out _)!;
        var orphanMac = PhysicalAddress.Parse("0a:00:00:00:00:09");
        var observed = new ObservedState(
            [p3.Neighbor!.Value, new NeighborEntry(IPAddress.Parse("10.244.9.0"), orphanMac)],
            [p3.Fdb!.Value, p4.Fdb!.Value, new FdbEntry(orphanMac, IPAddress.Parse("198.18.0.9"))],
            [
                new ObservedRoute(p3.Subnet, p3.Route.Gateway, true, true),
                new ObservedRoute(IPNetwork.Parse("10.244.9.0/24"), IPAddress.Parse("10.244.9.0"), true, true),
            ]);
        var diff = VxlanPlanner.Diff([p3, p4], observed);
        Assert.Equal([p4], diff.Program);
        Assert.Equal([new NeighborEntry(IPAddress.Parse("10.244.9.0"), orphanMac)], diff.DeleteNeighbors);
        Assert.Equal([new FdbEntry(orphanMac, IPAddress.Parse("198.18.0.9"))], diff.DeleteFdb);
        Assert.Equal([IPNetwork.Parse("10.244.9.0/24")], diff.DeleteRoutes);

        var settled = new ObservedState(
            [p3.Neighbor!.Value, p4.Neighbor!.Value],
            [p3.Fdb!.Value, p4.Fdb!.Value],
            [new ObservedRoute(p3.Subnet, p3.Route.Gateway, true, true), new ObservedRoute(p4.Subnet, p4.Route.Gateway, true, true)]);
        Assert.True(VxlanPlanner.Diff([p3, p4], settled).IsEmpty);
    }

    [Fact]
    public void Diff_reprograms_a_changed_mac_and_drops_the_old_fdb_entry_but_not_the_neighbour_address()
    {
        var old = VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA), AddressFamily.InterNetwork, false, _ => false, out _)!;
        var now = VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacB), AddressFamily.InterNetwork, false, _ => false, out _)!;
        var observed = new ObservedState([old.Neighbor!.Value], [old.Fdb!.Value], [new ObservedRoute(old.Subnet, old.Route.Gateway, true, true)]);
        var diff = VxlanPlanner.Diff([now], observed);
        Assert.Equal([now], diff.Program);
        Assert.Empty(diff.DeleteNeighbors);
        Assert.Equal([old.Fdb!.Value], diff.DeleteFdb);
        Assert.Empty(diff.DeleteRoutes);
    }

    [Fact]
    public void Diff_switches_between_direct_and_encapsulated_routes()
    {
        var direct = VxlanPlanner.Plan(Peer("10.244.3.0/24", "198.18.0.3", MacA), AddressFamily.InterNetwork, true, _ => true, out _)!;
        var observed = new ObservedState([], [], [new ObservedRoute(direct.Subnet, IPAddress.Parse("10.244.3.0"), true, true)]);
        Assert.Equal([direct], VxlanPlanner.Diff([direct], observed).Program);
        var ok = new ObservedState([], [], [new ObservedRoute(direct.Subnet, IPAddress.Parse("198.18.0.3"), false, false)]);
        Assert.True(VxlanPlanner.Diff([direct], ok).IsEmpty);
    }
}
