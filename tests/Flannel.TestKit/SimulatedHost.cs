using System.Net;
using System.Text.Json;

namespace Flannel.TestKit;

/// <summary>One simulated host of a <see cref="SimulatedHosts"/> lab.</summary>
public sealed class SimulatedHost
{
    private readonly SimulatedHosts _lab;

    internal SimulatedHost(SimulatedHosts lab, TestNamespace ns, string name, int subnetIndex, IPAddress address, IPAddress? ipv6Address, int index, int mtu)
    {
        _lab = lab;
        Namespace = ns;
        Name = name;
        SubnetIndex = subnetIndex;
        Address = address;
        IPv6Address = ipv6Address;
        InterfaceIndex = index;
        Mtu = mtu;
    }

    /// <summary>The host's namespace.</summary>
    public TestNamespace Namespace { get; }

    /// <summary>A short name (<c>h01</c>: subnet 0, host 1).</summary>
    public string Name { get; }

    /// <summary>The underlay segment the host is on.</summary>
    public int SubnetIndex { get; }

    /// <summary>The underlay IPv4 address on eth0.</summary>
    public IPAddress Address { get; }

    /// <summary>The underlay IPv6 address on eth0, when the lab has IPv6.</summary>
    public IPAddress? IPv6Address { get; }

    /// <summary>eth0's interface index inside the host namespace.</summary>
    public int InterfaceIndex { get; }

    /// <summary>eth0's MTU.</summary>
    public int Mtu { get; }

    /// <summary>The host's pod, once added.</summary>
    public SimulatedPod? Pod { get; private set; }

    /// <summary>The external interface a backend on this host should use (eth0 with its addresses).</summary>
    /// <param name="publicIP">An advertised IPv4 address different from the interface's (NAT), or null.</param>
    /// <returns>The interface description.</returns>
    public ExternalInterface ExternalInterface(IPAddress? publicIP = null) => new()
    {
        Name = "eth0",
        Index = InterfaceIndex,
        Mtu = Mtu,
        Address = Address,
        IPv6Address = IPv6Address,
        PublicIP = publicIP ?? Address,
        PublicIPv6 = IPv6Address,
    };

    /// <summary>
    /// Adds the host's pod: a namespace behind a veth (host side <c>pod0</c>, like cni0, with the first address of
    /// the subnet; pod side <c>eth0</c> with the second), with a default route via the host.
    /// </summary>
    /// <param name="subnet">The host's IPv4 lease subnet.</param>
    /// <param name="ipv6Subnet">The host's IPv6 lease subnet, or null.</param>
    /// <returns>The pod.</returns>
    public SimulatedPod AddPod(IPNetwork subnet, IPNetwork? ipv6Subnet = null)
    {
        if (Pod is not null)
        {
            throw new InvalidOperationException($"host {Name} already has a pod");
        }

        var ns = TestNamespace.Create("p" + Name);
        try
        {
            if (ipv6Subnet is not null)
            {
                SimulatedHosts.EnableIPv6(ns);
            }

            Namespace.Ip("link", "add", "pod0", "type", "veth", "peer", "name", "eth0", "netns", ns.Name);
            var gw = Offset(subnet.BaseAddress, 1);
            var addr = Offset(subnet.BaseAddress, 2);
            Namespace.Ip("addr", "add", $"{gw}/{subnet.PrefixLength}", "dev", "pod0");
            ns.Ip("addr", "add", $"{addr}/{subnet.PrefixLength}", "dev", "eth0");
            IPAddress? addr6 = null;
            if (ipv6Subnet is { } v6)
            {
                var gw6 = Offset(v6.BaseAddress, 1);
                addr6 = Offset(v6.BaseAddress, 2);
                Namespace.Ip("addr", "add", $"{gw6}/{v6.PrefixLength}", "dev", "pod0", "nodad");
                ns.Ip("addr", "add", $"{addr6}/{v6.PrefixLength}", "dev", "eth0", "nodad");
            }

            Namespace.Ip("link", "set", "pod0", "up");
            ns.Ip("link", "set", "eth0", "up");
            ns.Ip("route", "add", "default", "via", gw.ToString());
            if (ipv6Subnet is not null)
            {
                ns.Ip("-6", "route", "add", "default", "via", Offset(ipv6Subnet.Value.BaseAddress, 1).ToString());
            }

            Pod = new SimulatedPod(ns, addr, addr6);
            return Pod;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>The routes of a table in this host (<c>ip -j [-6] route show table T</c>).</summary>
    /// <param name="ipv6">IPv6 routes instead of IPv4.</param>
    /// <param name="table">The table (default main).</param>
    /// <returns>The parsed routes.</returns>
    public JsonElement Routes(bool ipv6 = false, string table = "main") =>
        ipv6 ? Namespace.IpJson("-6", "route", "show", "table", table) : Namespace.IpJson("route", "show", "table", table);

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Address})";

    internal void Destroy()
    {
        Pod?.Namespace.Dispose();
        Namespace.Dispose();
    }

    /// <summary>The address <paramref name="n"/> after <paramref name="address"/>.</summary>
    /// <param name="address">The base.</param>
    /// <param name="n">The offset.</param>
    /// <returns>The address.</returns>
    public static IPAddress Offset(IPAddress address, int n)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bytes = address.GetAddressBytes();
        var carry = n;
        for (var i = bytes.Length - 1; i >= 0 && carry != 0; i--)
        {
            var v = bytes[i] + carry;
            bytes[i] = (byte)(v & 0xff);
            carry = v >> 8;
        }

        return new IPAddress(bytes);
    }
}
