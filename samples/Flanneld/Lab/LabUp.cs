using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Flannel;
using Flannel.Netlink;

namespace Flanneld.Labs;

/// <summary>The options of <c>flanneld lab up</c>.</summary>
internal sealed record LabOptions(LabName Name, int Nodes, string Backend, bool IPv6, bool Keep, bool Json, string Directory, int PingCount);

/// <summary>
/// One host of the lab as reported: its lease and what the pings from its pod saw; the IPv6 members are set in a
/// dual-stack lab (<c>--ipv6</c>) only.
/// </summary>
internal sealed record LabHost(string Name, IPAddress PublicIP, string? Subnet, int Mtu, int? Peers, IPAddress? PodIP, int HealthPort, int Pid)
{
    public IPAddress? PublicIPv6 { get; init; }

    public string? IPv6Subnet { get; init; }

    public int? PeersV6 { get; init; }

    public IPAddress? PodIPv6 { get; init; }
}

/// <summary>
/// <c>flanneld lab up</c>: underlay bridge namespace, N host namespaces, one real daemon per host, a pod per host,
/// readiness, pings from every pod to every other pod, a table.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class LabUp
{
    private static readonly IPNetwork Network = IPNetwork.Parse("10.244.0.0/16");

    /// <summary>The pods' IPv6 range (unique local, fd00::/8), /64 per host.</summary>
    private static readonly IPNetwork IPv6Network = IPNetwork.Parse("fd00:10:244::/48");

    /// <summary>The underlay's IPv6 subnet in a dual-stack lab (unique local, fd00::/8); host i is ::i.</summary>
    private static readonly IPNetwork UnderlayV6 = IPNetwork.Parse("fd00:198:18::/64");

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private readonly LabOptions _o;
    private readonly LabProgress _progress;
    private readonly LabState _state;
    private readonly List<LabHost> _hosts = [];

    public LabUp(LabOptions options, LabProgress progress)
    {
        _o = options;
        _progress = progress;
        _state = new LabState { Directory = options.Directory, Name = options.Name, Backend = options.Backend };
    }

    private string Underlay => _o.Name.Underlay;

    private string HostName(int i) => _o.Name.Host(i);

    private string PodName(int i) => _o.Name.Pod(i);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        _progress.Begin(_o.Name.IsDefault ? "cleaning leftovers of earlier runs" : $"cleaning leftovers of earlier runs of lab {_o.Name}");
        var leftovers = await LabTeardown.RunAsync(_o.Directory, _o.Name, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _progress.Done(leftovers.Count == 0 ? "none" : string.Join(", ", leftovers));

        var ok = false;
        LabReport? report = null;
        try
        {
            await BuildUnderlayAsync(ct).ConfigureAwait(false);
            StartDaemons();
            await WaitReadyAsync(ct).ConfigureAwait(false);
            await BuildPodsAsync(ct).ConfigureAwait(false);
            await WaitForPeersAsync(ct).ConfigureAwait(false);
            var pings = _o.Backend == "alloc" ? [] : await PingAllAsync(ct).ConfigureAwait(false);
            report = new LabReport(_o.Name.Value, _o.Backend, _o.IPv6, _hosts, pings, total.Elapsed, _o.Keep ? _o.Directory : null);
            ok = report.Check(out var problems);
            foreach (var p in problems)
            {
                _progress.Note("✗ " + p);
            }
        }
        catch (Exception ex) when (ex is IOException or NetlinkException or TimeoutException or FlannelException or InvalidOperationException or SocketException or HttpRequestException or UnauthorizedAccessException)
        {
            _progress.Fail(ex.Message);
            Console.Error.WriteLine($"flanneld lab: {ex.Message}");
            foreach (var (host, _) in _state.Processes)
            {
                var log = Path.Combine(_o.Directory, host, "flanneld.log");
                if (File.Exists(log))
                {
                    Console.Error.WriteLine($"--- last lines of {log}:");
                    foreach (var line in File.ReadLines(log).TakeLast(8))
                    {
                        Console.Error.WriteLine("    " + line);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            _progress.Fail("interrupted");
        }

        if (report is not null)
        {
            if (_o.Json)
            {
                report.WriteJson(Console.OpenStandardOutput());
            }
            else
            {
                report.WriteTable(Console.Out);
            }
        }

        if (_o.Keep && report is not null)
        {
            var down = _o.Name.IsDefault ? "flanneld lab down" : $"flanneld lab down --name {_o.Name}";
            Console.Error.WriteLine($"  lab kept: inspect with `ip netns exec {HostName(1)} ip route`, remove with `{down}`");
        }
        else
        {
            _progress.Begin("tearing down");
            var removed = await LabTeardown.RunAsync(_o.Directory, _o.Name, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            _progress.Done($"{removed.Count} items removed");
        }

        return ok ? 0 : 1;
    }

    private async Task BuildUnderlayAsync(CancellationToken ct)
    {
        _progress.Begin($"building the underlay: bridge in {Underlay}, {_o.Nodes} hosts on 198.18.0.0/24{(_o.IPv6 ? " and " + UnderlayV6 : string.Empty)}");
        Directory.CreateDirectory(_o.Directory);
        _state.Namespaces.Add(Underlay);
        _state.Save();
        LabNative.CreateNamedNamespace(Underlay);
        using var ul = NetworkNamespace.OpenByName(Underlay);
        await using var ulNl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = ul }, ct).ConfigureAwait(false);
        await SetLoopbackUpAsync(ulNl, ct).ConfigureAwait(false);
        var bridge = await ulNl.Links.CreateAsync(new BridgeLinkSpec("br0") { Up = true }, ct).ConfigureAwait(false);

        for (var i = 1; i <= _o.Nodes; i++)
        {
            var name = HostName(i);
            _progress.Update(name);
            _state.Namespaces.Add(name);
            _state.Save();
            LabNative.CreateNamedNamespace(name);
            var path = Path.Combine(LabNative.NetnsDirectory, name);
            using var hostNs = NetworkNamespace.OpenByPath(path);
            await using var nl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = hostNs }, ct).ConfigureAwait(false);
            await SetLoopbackUpAsync(nl, ct).ConfigureAwait(false);
            var port = "h" + i.ToString(CultureInfo.InvariantCulture);
            var eth0 = await nl.Links.CreateAsync(new VethLinkSpec("eth0", port) { PeerNamespace = ul }, ct).ConfigureAwait(false);
            var peer = await ulNl.Links.GetAsync(port, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the bridge port {port} did not appear in {Underlay}");
            await ulNl.Links.SetMasterAsync(peer.Index, bridge.Index, ct).ConfigureAwait(false);
            await ulNl.Links.SetUpAsync(peer.Index, ct).ConfigureAwait(false);
            var ip = PublicIP(i);
            await nl.Addresses.AddAsync(new AddressSpec(eth0.Index, ip, 24), ct).ConfigureAwait(false);
            await nl.Links.SetUpAsync(eth0.Index, ct).ConfigureAwait(false);
            LabNative.Sysctl(path, "net/ipv4/ip_forward", "1");
            IPAddress? ip6 = null;
            if (_o.IPv6)
            {
                // No duplicate address detection: the addresses are unique by construction and usable at once.
                ip6 = PublicIPv6(i);
                await nl.Addresses.AddAsync(new AddressSpec(eth0.Index, ip6, UnderlayV6.PrefixLength) { NoDad = true }, ct).ConfigureAwait(false);
                LabNative.Sysctl(path, "net/ipv6/conf/all/forwarding", "1");
            }

            _hosts.Add(new LabHost(name, ip, null, 0, null, null, FreeLoopbackPort(), 0) { PublicIPv6 = ip6 });
        }

        _progress.Done();
    }

    private void StartDaemons()
    {
        _progress.Begin($"starting {_o.Nodes} flanneld daemons (backend {_o.Backend})");
        var backend = _o.Backend == "udp" ? "{\"Type\":\"udp\",\"Port\":8285}" : $"{{\"Type\":\"{_o.Backend}\"}}";
        var config = Path.Combine(_o.Directory, "net-conf.json");
        var ipv6 = _o.IPv6 ? $"  \"EnableIPv6\": true,\n  \"IPv6Network\": \"{IPv6Network}\",\n  \"IPv6SubnetLen\": 64,\n" : string.Empty;
        File.WriteAllText(config, $"{{\n  \"Network\": \"{Network}\",\n  \"SubnetLen\": 24,\n{ipv6}  \"Backend\": {backend}\n}}\n");
        var (exe, prefix) = DaemonExecutable();
        for (var i = 0; i < _hosts.Count; i++)
        {
            var h = _hosts[i];
            var dir = Path.Combine(_o.Directory, h.Name);
            Directory.CreateDirectory(dir);
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("exec \"$0\" \"$@\" </dev/null >>\"$FLANNEL_LAB_LOG\" 2>&1");
            psi.ArgumentList.Add(exe);
            foreach (var a in prefix)
            {
                psi.ArgumentList.Add(a);
            }

            foreach (var a in new[]
            {
                "--netns", h.Name,
                "--node-name", h.Name,
                "--datastore-path", Path.Combine(_o.Directory, "leases.db"),
                "--net-config-path", config,
                "--subnet-file", Path.Combine(dir, "subnet.env"),
                "--state-dir", dir,
                "--iface", "eth0",
                "--healthz-ip", "127.0.0.1",
                "--healthz-port", h.HealthPort.ToString(CultureInfo.InvariantCulture),
                "--iptables-forward-rules=false",
            })
            {
                psi.ArgumentList.Add(a);
            }

            psi.Environment["FLANNEL_LAB_LOG"] = Path.Combine(dir, "flanneld.log");
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + exe);
            _state.Processes.Add((h.Name, process.Id));
            _state.Save();
            _hosts[i] = h with { Pid = process.Id };
        }

        _progress.Done($"PIDs {string.Join(' ', _hosts.Select(h => h.Pid))}");
    }

    private async Task WaitReadyAsync(CancellationToken ct)
    {
        _progress.Begin("waiting for /readyz (lease, routes, subnet.env)");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var ready = new bool[_hosts.Count];
        var sw = Stopwatch.StartNew();
        while (!ready.All(r => r))
        {
            ct.ThrowIfCancellationRequested();
            for (var i = 0; i < _hosts.Count; i++)
            {
                if (ready[i])
                {
                    continue;
                }

                if (!LabTeardown.IsLabDaemon(_hosts[i].Pid, _o.Name))
                {
                    throw new InvalidOperationException($"flanneld on {_hosts[i].Name} (PID {_hosts[i].Pid}) exited before it was ready; see {Path.Combine(_o.Directory, _hosts[i].Name, "flanneld.log")}");
                }

                try
                {
                    using var r = await http.GetAsync(new Uri($"http://127.0.0.1:{_hosts[i].HealthPort}/readyz"), ct).ConfigureAwait(false);
                    ready[i] = r.IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    // not listening yet
                }
            }

            _progress.Update($"{ready.Count(r => r)}/{ready.Length} ready");
            if (sw.Elapsed > ReadyTimeout)
            {
                var waiting = string.Join(", ", _hosts.Where((_, i) => !ready[i]).Select(h => h.Name));
                throw new TimeoutException($"{waiting} not ready after {ReadyTimeout.TotalSeconds:0} s; see the flanneld.log files in {_o.Directory}");
            }

            if (!ready.All(r => r))
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }

        _progress.Done($"{ready.Length}/{ready.Length} ready");
    }

    private async Task BuildPodsAsync(CancellationToken ct)
    {
        _progress.Begin("creating one pod per host (veth, first/second address of the lease, MTU from subnet.env)");
        for (var i = 0; i < _hosts.Count; i++)
        {
            var h = _hosts[i];
            var env = await SubnetEnvFile.ReadAsync(Path.Combine(_o.Directory, h.Name, "subnet.env"), ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"{h.Name} is ready but wrote no subnet.env");
            var subnet = env.Subnet ?? throw new InvalidOperationException($"{h.Name}: subnet.env has no FLANNEL_SUBNET");
            var gateway = Offset(subnet.BaseAddress, 1);
            var podIP = Offset(subnet.BaseAddress, 2);
            var pod = PodName(i + 1);
            _state.Namespaces.Add(pod);
            _state.Save();
            LabNative.CreateNamedNamespace(pod);
            using var podNs = NetworkNamespace.OpenByName(pod);
            using var hostNs = NetworkNamespace.OpenByName(h.Name);
            await using var hostNl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = hostNs }, ct).ConfigureAwait(false);
            await using var podNl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = podNs }, ct).ConfigureAwait(false);
            await SetLoopbackUpAsync(podNl, ct).ConfigureAwait(false);
            var hostSide = await hostNl.Links.CreateAsync(new VethLinkSpec("pod0", "eth0") { PeerNamespace = podNs, Mtu = env.Mtu }, ct).ConfigureAwait(false);
            await hostNl.Addresses.AddAsync(new AddressSpec(hostSide.Index, gateway, subnet.PrefixLength), ct).ConfigureAwait(false);
            await hostNl.Links.SetUpAsync(hostSide.Index, ct).ConfigureAwait(false);
            var podSide = await podNl.Links.GetAsync("eth0", ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the pod end eth0 did not appear in {pod}");
            await podNl.Links.SetMtuAsync(podSide.Index, env.Mtu, ct).ConfigureAwait(false);
            await podNl.Addresses.AddAsync(new AddressSpec(podSide.Index, podIP, subnet.PrefixLength), ct).ConfigureAwait(false);
            await podNl.Links.SetUpAsync(podSide.Index, ct).ConfigureAwait(false);
            await podNl.Routes.AddAsync(new RouteSpec(new IPNetwork(IPAddress.Any, 0)) { Gateway = gateway }, ct).ConfigureAwait(false);
            _hosts[i] = h with { Subnet = subnet.ToString(), Mtu = env.Mtu, PodIP = podIP };
            if (_o.IPv6)
            {
                // The same for IPv6: the host end gets ::1 of the host's IPv6 lease, the pod ::2 and a default route.
                var subnet6 = env.IPv6Subnet ?? throw new InvalidOperationException($"{h.Name}: subnet.env has no FLANNEL_IPV6_SUBNET although EnableIPv6 is set");
                var gateway6 = Offset(subnet6.BaseAddress, 1);
                var podIP6 = Offset(subnet6.BaseAddress, 2);
                await hostNl.Addresses.AddAsync(new AddressSpec(hostSide.Index, gateway6, subnet6.PrefixLength) { NoDad = true }, ct).ConfigureAwait(false);
                await podNl.Addresses.AddAsync(new AddressSpec(podSide.Index, podIP6, subnet6.PrefixLength) { NoDad = true }, ct).ConfigureAwait(false);
                await podNl.Routes.AddAsync(new RouteSpec(new IPNetwork(IPAddress.IPv6Any, 0)) { Gateway = gateway6 }, ct).ConfigureAwait(false);
                _hosts[i] = _hosts[i] with { IPv6Subnet = subnet6.ToString(), PodIPv6 = podIP6 };
            }
        }

        _progress.Done();
    }

    /// <summary>
    /// A daemon is ready once its own lease, rules and subnet.env are in place; the peers that joined after it
    /// arrive through the lease watch a moment later. Waits (bounded) until every host has programmed the other
    /// N-1 peers (per family in a dual-stack lab); what is still missing after the bound is reported by the check.
    /// </summary>
    private async Task WaitForPeersAsync(CancellationToken ct)
    {
        if (_o.Backend is "alloc")
        {
            return;
        }

        _progress.Begin($"waiting for every host to program its {_hosts.Count - 1} peers");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        while (true)
        {
            for (var i = 0; i < _hosts.Count; i++)
            {
                using var hostNs = NetworkNamespace.OpenByName(_hosts[i].Name);
                await using var nl = await RtnetlinkClient.OpenAsync(new RtnetlinkClientOptions { Namespace = hostNs }, ct).ConfigureAwait(false);
                _hosts[i] = await CountPeersAsync(nl, http, _hosts[i], ct).ConfigureAwait(false);
            }

            var programmed = _hosts.Count(h => h.Peers == _hosts.Count - 1 && (!_o.IPv6 || h.PeersV6 == _hosts.Count - 1));
            _progress.Update($"{programmed}/{_hosts.Count} hosts complete");
            if (programmed == _hosts.Count)
            {
                _progress.Done();
                return;
            }

            if (sw.Elapsed > TimeSpan.FromSeconds(20))
            {
                _progress.Fail($"{_hosts.Count - programmed} hosts incomplete after 20 s");
                return;
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Peers programmed, from the state that forwards the host's traffic. vxlan and host-gw: routes in the kernel's
    /// main table to other leases' subnets (vxlan via flannel.N / flannel-v6.N, host-gw via the peer's public IP),
    /// per family. udp: the kernel holds one route for the whole network through flannel0 and the peers live in the
    /// daemon's forwarder, so the count is the forwarder's table (<c>flannel_udp_peers</c> on the daemon's /metrics)
    /// when that route exists, and 0 when it does not (no peer is reachable without it).
    /// </summary>
    private async Task<LabHost> CountPeersAsync(RtnetlinkClient nl, HttpClient http, LabHost host, CancellationToken ct)
    {
        var routes = await nl.Routes.ListAsync(new RouteFilter { Family = AddressFamily.InterNetwork, Table = 254 }, ct).ConfigureAwait(false);
        if (_o.Backend == "udp")
        {
            var tun = await nl.Links.GetAsync("flannel0", ct).ConfigureAwait(false);
            var routed = tun is not null && routes.Any(r => r.Destination.Equals(Network) && r.OutputInterface == tun.Index);
            return host with { Peers = routed ? await ReadUdpPeersAsync(http, host, ct).ConfigureAwait(false) : 0 };
        }

        var own = IPNetwork.Parse(host.Subnet!);
        host = host with { Peers = routes.Count(r => r.Destination.PrefixLength == own.PrefixLength && Network.Contains(r.Destination.BaseAddress) && !r.Destination.Equals(own)) };
        if (_o.IPv6)
        {
            var own6 = IPNetwork.Parse(host.IPv6Subnet!);
            var routes6 = await nl.Routes.ListAsync(new RouteFilter { Family = AddressFamily.InterNetworkV6, Table = 254 }, ct).ConfigureAwait(false);
            host = host with { PeersV6 = routes6.Count(r => r.Destination.PrefixLength == own6.PrefixLength && IPv6Network.Contains(r.Destination.BaseAddress) && !r.Destination.Equals(own6)) };
        }

        return host;
    }

    /// <summary>The udp forwarder's peer table size, from the gauge <c>flannel_udp_peers</c> on the daemon's /metrics; null when absent.</summary>
    private static async Task<int?> ReadUdpPeersAsync(HttpClient http, LabHost host, CancellationToken ct)
    {
        string text;
        try
        {
            text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{host.HealthPort}/metrics"), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }

        return ParseGauge(text, "flannel_udp_peers");
    }

    /// <summary>The value of a gauge in Prometheus text format (the first series, labels ignored); null when absent or not a whole number.</summary>
    internal static int? ParseGauge(string exposition, string name)
    {
        foreach (var line in exposition.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length == name.Length || line[name.Length] is not (' ' or '{'))
            {
                continue;
            }

            var value = line[(line.LastIndexOf(' ') + 1)..];
            return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && v <= int.MaxValue && v == Math.Floor(v) ? (int)v : null;
        }

        return null;
    }

    private async Task<List<PingResult>> PingAllAsync(CancellationToken ct)
    {
        var families = _o.IPv6 ? "IPv4 and IPv6" : "IPv4";
        var pairs = new List<(int From, int To, IPAddress Destination)>();
        for (var i = 0; i < _hosts.Count; i++)
        {
            for (var j = 0; j < _hosts.Count; j++)
            {
                if (i != j)
                {
                    pairs.Add((i, j, _hosts[j].PodIP!));
                    if (_o.IPv6)
                    {
                        pairs.Add((i, j, _hosts[j].PodIPv6!));
                    }
                }
            }
        }

        _progress.Begin($"pinging every pod from every other pod ({_hosts.Count * (_hosts.Count - 1)} pairs, {families}, {_o.PingCount} echoes each)");
        var done = 0;
        var tasks = pairs.Select(p => Task.Run(() =>
        {
            var from = _hosts[p.From];
            var to = _hosts[p.To];
            using var pinger = LabPinger.Open(Path.Combine(LabNative.NetnsDirectory, PodName(p.From + 1)), p.Destination.AddressFamily);
            pinger.WaitForReply(p.Destination, TimeSpan.FromSeconds(10));
            var result = pinger.Measure(from.Name, to.Name, p.Destination, _o.PingCount, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
            _progress.Update($"{Interlocked.Increment(ref done)}/{pairs.Count} pings");
            return result;
        }, ct)).ToList();
        var results = (await Task.WhenAll(tasks).ConfigureAwait(false)).ToList();
        var lost = results.Count(r => r.Received < r.Sent);
        if (lost == 0)
        {
            _progress.Done("no loss");
        }
        else
        {
            _progress.Fail($"{lost} pairs lost echoes");
        }

        return results;
    }

    private static async Task SetLoopbackUpAsync(RtnetlinkClient nl, CancellationToken ct)
    {
        var lo = await nl.Links.GetAsync("lo", ct).ConfigureAwait(false);
        if (lo is not null)
        {
            await nl.Links.SetUpAsync(lo.Index, ct).ConfigureAwait(false);
        }
    }

    private static IPAddress PublicIP(int i) => new([198, 18, 0, (byte)i]);

    private static IPAddress PublicIPv6(int i) => Offset(UnderlayV6.BaseAddress, i);

    /// <summary>The address <paramref name="n"/> after <paramref name="address"/> (IPv4 or IPv6; n is small, no carry past the last 32 bits is needed here).</summary>
    private static IPAddress Offset(IPAddress address, int n)
    {
        var b = address.GetAddressBytes();
        var v = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(b.Length - 4)) + (uint)n;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(b.Length - 4), v);
        return new IPAddress(b);
    }

    private static int FreeLoopbackPort()
    {
        using var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)l.LocalEndPoint!).Port;
    }

    /// <summary>This flanneld: the native executable, or <c>dotnet flanneld.dll</c> when run through the host.</summary>
    private static (string Exe, string[] Prefix) DaemonExecutable()
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell where this flanneld executable is");
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [Path.Combine(AppContext.BaseDirectory, "flanneld.dll")])
            : (path, []);
    }
}
