using System.Diagnostics;
using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>
/// Simulated hosts, each running one backend instance in-process against its own namespace, all sharing one
/// in-memory lease store (Core's LeaseManager over one InMemoryLeaseRegistry).
/// </summary>
internal sealed class BackendLab : IAsyncDisposable
{
    private readonly Func<IBackendFactory> _factory;
    private readonly List<Agent> _agents = [];

    private readonly TimeProvider _leaseTime;

    private BackendLab(SimulatedHosts hosts, NetworkConfig config, Func<IBackendFactory> factory, InMemoryLeaseRegistry registry, TimeProvider leaseTime)
    {
        _leaseTime = leaseTime;
        Hosts = hosts;
        Config = config;
        _factory = factory;
        Registry = registry;
    }

    public SimulatedHosts Hosts { get; }

    public NetworkConfig Config { get; }

    public InMemoryLeaseRegistry Registry { get; }

    public IReadOnlyList<Agent> Agents => _agents;

    /// <param name="leaseTime">The clock of the lease store (a FakeTimeProvider lets a test expire leases).</param>
    public static BackendLab Create(string netConf, Func<IBackendFactory> factory, SimulatedHostsOptions? hosts = null, TimeProvider? leaseTime = null)
    {
        leaseTime ??= TimeProvider.System;
        var config = NetworkConfig.Parse(netConf);
        var lab = SimulatedHosts.Create(hosts);
        try
        {
            return new BackendLab(lab, config, factory, new InMemoryLeaseRegistry(config, leaseTime), leaseTime);
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Starts an agent on every host that has none.</summary>
    public async Task StartAllAsync()
    {
        foreach (var h in Hosts.Hosts)
        {
            if (_agents.All(a => a.Host != h))
            {
                await StartAsync(h);
            }
        }
    }

    public async Task<Agent> StartAsync(SimulatedHost host, IBackendFactory? factory = null, IPAddress? publicIP = null, System.Diagnostics.Metrics.IMeterFactory? meters = null)
    {
        var manager = new LeaseManager(Registry, new LeaseManagerOptions { Ttl = TimeSpan.FromMinutes(10), TimeProvider = _leaseTime });
        var context = new BackendContext
        {
            SubnetManager = manager,
            Interface = host.ExternalInterface(publicIP),
            InstanceName = host.Name,
            NetworkNamespacePath = host.Namespace.Path,
            MeterFactory = meters,
        };
        var backend = (factory ?? _factory()).Create(context);
        var network = await backend.RegisterNetworkAsync(Config, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        if (host.Pod is null)
        {
            host.AddPod(network.Lease.Subnet!.Value, network.Lease.IPv6Subnet);
        }

        var agent = new Agent(host, manager, network);
        _agents.Add(agent);
        return agent;
    }

    /// <summary>Stops an agent (the data path stays); optionally releases its lease and/or removes the host.</summary>
    public async Task StopAsync(Agent agent, bool release = false, bool removeHost = false)
    {
        await agent.StopAsync();
        if (release)
        {
            await agent.Manager.ReleaseLeaseAsync(agent.Network.Lease, CancellationToken.None);
        }

        _agents.Remove(agent);
        if (removeHost)
        {
            Hosts.RemoveHost(agent.Host);
        }
    }

    public Agent AgentOf(SimulatedHost host) => _agents.Single(a => a.Host == host);

    /// <summary>Every pod pings every other pod (IPv4, and IPv6 when pods have it).</summary>
    public void AssertFullMesh(TimeSpan? within = null)
    {
        foreach (var a in Hosts.Hosts)
        {
            foreach (var b in Hosts.Hosts.Where(b => b != a))
            {
                Assert.True(a.Pod!.Ping(b.Pod!.Address, within ?? TimeSpan.FromSeconds(5)), $"pod on {a} cannot reach pod on {b} ({b.Pod.Address})");
                if (a.Pod.IPv6Address is not null && b.Pod.IPv6Address is { } v6)
                {
                    Assert.True(a.Pod.Ping(v6, within ?? TimeSpan.FromSeconds(5)), $"pod on {a} cannot reach pod on {b} ({v6})");
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var a in _agents)
        {
            try
            {
                await a.StopAsync();
            }
            catch (Exception)
            {
                // Cleanup must go on; the test already reports its own failure.
            }
        }

        Hosts.Dispose();
        Registry.Dispose();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="within"/> passes; returns the elapsed time.</summary>
    public static async Task<TimeSpan> EventuallyAsync(Func<bool> condition, TimeSpan within, string what)
    {
        var sw = Stopwatch.StartNew();
        string? last = null;
        while (true)
        {
            try
            {
                if (condition())
                {
                    return sw.Elapsed;
                }
            }
            catch (Xunit.Sdk.XunitException ex)
            {
                last = ex.Message;
            }

            if (sw.Elapsed > within)
            {
                Assert.Fail($"{what}: not true within {within}{(last is null ? string.Empty : ": " + last)}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>One host's agent: its subnet manager, network and run loop.</summary>
    internal sealed class Agent
    {
        private readonly CancellationTokenSource _stop = new();
        private bool _disposed;

        public Agent(SimulatedHost host, LeaseManager manager, INetwork network)
        {
            Host = host;
            Manager = manager;
            Network = network;
            Run = Task.Run(() => network.RunAsync(_stop.Token));
        }

        public SimulatedHost Host { get; }

        public LeaseManager Manager { get; }

        public INetwork Network { get; }

        public Task Run { get; }

        public async Task StopAsync(bool dispose = true)
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
                await Run.WaitAsync(TimeSpan.FromSeconds(10));
            }

            if (dispose && !_disposed)
            {
                _disposed = true;
                await Network.DisposeAsync();
            }
        }
    }
}
