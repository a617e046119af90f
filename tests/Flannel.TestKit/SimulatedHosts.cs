using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Flannel.TestKit;

/// <summary>
/// A lab of simulated hosts for multi-host backend tests, built with iproute2 in private network namespaces:
/// each host is a namespace whose <c>eth0</c> (198.18.K.X/24, optionally fd00:198:18:K::X/64) plugs into an
/// underlay bridge that lives in its own namespace (never the root namespace); IP forwarding is on in every
/// host. Hosts get pods (a namespace behind a veth) once their lease subnet is known. Disposing removes every
/// namespace, also after a failure half-way through construction.
/// </summary>
public sealed class SimulatedHosts : IDisposable
{
    private readonly List<SimulatedHost> _hosts = [];
    private readonly List<int> _nextHostNumber = [];
    private readonly SimulatedHostsOptions _options;
    private int _bridgePort;
    private bool _disposed;

    private SimulatedHosts(SimulatedHostsOptions options, TestNamespace underlay)
    {
        _options = options;
        Underlay = underlay;
    }

    /// <summary>The namespace holding the underlay bridges (<c>br0</c>, <c>br1</c>, …).</summary>
    public TestNamespace Underlay { get; }

    /// <summary>The router namespace when the lab has more than one underlay subnet; otherwise null.</summary>
    public TestNamespace? Router { get; private set; }

    /// <summary>The hosts, in creation order (removed hosts are gone from the list).</summary>
    public IReadOnlyList<SimulatedHost> Hosts => _hosts;

    /// <summary>Whether hosts have IPv6 underlay addresses.</summary>
    public bool IPv6 => _options.IPv6;

    /// <summary>Builds the lab.</summary>
    /// <param name="options">The layout; null for three hosts on one IPv4 segment.</param>
    /// <returns>The lab; dispose it to remove every namespace.</returns>
    public static SimulatedHosts Create(SimulatedHostsOptions? options = null)
    {
        options ??= new SimulatedHostsOptions();
        if (options.HostsPerSubnet.Count == 0)
        {
            throw new ArgumentException("at least one underlay subnet is needed", nameof(options));
        }

        var lab = new SimulatedHosts(options, TestNamespace.Create("ul"));
        try
        {
            if (options.IPv6)
            {
                EnableIPv6(lab.Underlay);
            }

            for (var k = 0; k < options.HostsPerSubnet.Count; k++)
            {
                lab.Underlay.Ip("link", "add", "br" + k, "type", "bridge");
                lab.Underlay.Ip("link", "set", "br" + k, "up");
                lab._nextHostNumber.Add(1);
            }

            if (options.HostsPerSubnet.Count > 1)
            {
                lab.AddRouter();
            }

            for (var k = 0; k < options.HostsPerSubnet.Count; k++)
            {
                for (var i = 0; i < options.HostsPerSubnet[k]; i++)
                {
                    lab.AddHost(k);
                }
            }

            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Adds a host to underlay subnet <paramref name="subnetIndex"/> (a host joining the cluster).</summary>
    /// <param name="subnetIndex">Which underlay segment (0-based).</param>
    /// <returns>The new host.</returns>
    public SimulatedHost AddHost(int subnetIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(subnetIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(subnetIndex, _nextHostNumber.Count);
        var number = _nextHostNumber[subnetIndex]++;
        var name = $"h{subnetIndex}{number}";
        var ns = TestNamespace.Create(name);
        try
        {
            if (_options.IPv6)
            {
                EnableIPv6(ns);
            }

            Sysctl(ns, "net/ipv4/ip_forward", "1");
            if (_options.IPv6)
            {
                Sysctl(ns, "net/ipv6/conf/all/forwarding", "1");
            }

            var port = "p" + (++_bridgePort).ToString(CultureInfo.InvariantCulture);
            ns.Ip("link", "add", "eth0", "mtu", Mtu(), "type", "veth", "peer", "name", port, "mtu", Mtu(), "netns", Underlay.Name);
            Underlay.Ip("link", "set", port, "master", "br" + subnetIndex);
            Underlay.Ip("link", "set", port, "up");
            var v4 = IPAddress.Parse($"198.18.{subnetIndex}.{number}");
            ns.Ip("addr", "add", $"{v4}/24", "dev", "eth0");
            IPAddress? v6 = null;
            if (_options.IPv6)
            {
                v6 = IPAddress.Parse($"fd00:198:18:{subnetIndex}::{number:x}");
                ns.Ip("addr", "add", $"{v6}/64", "dev", "eth0", "nodad");
            }

            ns.Ip("link", "set", "eth0", "up");
            if (Router is not null)
            {
                ns.Ip("route", "add", "default", "via", $"198.18.{subnetIndex}.254");
                if (_options.IPv6)
                {
                    ns.Ip("-6", "route", "add", "default", "via", $"fd00:198:18:{subnetIndex}::fe");
                }
            }

            var link = ns.IpJson("link", "show", "eth0");
            var index = link[0].GetProperty("ifindex").GetInt32();
            var host = new SimulatedHost(this, ns, name, subnetIndex, v4, v6, index, _options.Mtu);
            _hosts.Add(host);
            return host;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Removes a host and its pod from the lab (a host leaving; its namespaces are deleted).</summary>
    /// <param name="host">The host.</param>
    public void RemoveHost(SimulatedHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (_hosts.Remove(host))
        {
            host.Destroy();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var h in _hosts)
        {
            h.Destroy();
        }

        _hosts.Clear();
        Router?.Dispose();
        Underlay.Dispose();
    }

    /// <summary>Enables IPv6 inside a namespace (new namespaces here may start with IPv6 disabled).</summary>
    /// <param name="ns">The namespace.</param>
    public static void EnableIPv6(TestNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        Sysctl(ns, "net/ipv6/conf/all/disable_ipv6", "0");
        Sysctl(ns, "net/ipv6/conf/default/disable_ipv6", "0");
        Sysctl(ns, "net/ipv6/conf/lo/disable_ipv6", "0");
    }

    /// <summary>Writes a sysctl inside a namespace (for example <c>net/ipv4/ip_forward</c>).</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key below /proc/sys, with slashes.</param>
    /// <param name="value">The value.</param>
    public static void Sysctl(TestNamespace ns, string key, string value)
    {
        ArgumentNullException.ThrowIfNull(ns);
        var (code, _, err) = ns.Exec("sh", ["-c", $"echo {value} > /proc/sys/{key}"]);
        if (code != 0)
        {
            throw new InvalidOperationException($"sysctl {key}={value} in {ns.Name} failed: {err.Trim()}");
        }
    }

    /// <summary>Reads a sysctl inside a namespace.</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="key">The key below /proc/sys, with slashes.</param>
    /// <returns>The value, trimmed.</returns>
    public static string ReadSysctl(TestNamespace ns, string key)
    {
        ArgumentNullException.ThrowIfNull(ns);
        var (code, o, err) = ns.Exec("cat", ["/proc/sys/" + key]);
        if (code != 0)
        {
            throw new InvalidOperationException($"reading sysctl {key} in {ns.Name} failed: {err.Trim()}");
        }

        return o.Trim();
    }

    private string Mtu() => _options.Mtu.ToString(CultureInfo.InvariantCulture);

    private void AddRouter()
    {
        var r = TestNamespace.Create("rt");
        Router = r;
        if (_options.IPv6)
        {
            EnableIPv6(r);
            Sysctl(r, "net/ipv6/conf/all/forwarding", "1");
        }

        Sysctl(r, "net/ipv4/ip_forward", "1");
        for (var k = 0; k < _options.HostsPerSubnet.Count; k++)
        {
            var leg = "eth" + k;
            var port = "r" + k;
            r.Ip("link", "add", leg, "mtu", Mtu(), "type", "veth", "peer", "name", port, "mtu", Mtu(), "netns", Underlay.Name);
            Underlay.Ip("link", "set", port, "master", "br" + k);
            Underlay.Ip("link", "set", port, "up");
            r.Ip("addr", "add", $"198.18.{k}.254/24", "dev", leg);
            if (_options.IPv6)
            {
                r.Ip("addr", "add", $"fd00:198:18:{k}::fe/64", "dev", leg, "nodad");
            }

            r.Ip("link", "set", leg, "up");
        }
    }
}
