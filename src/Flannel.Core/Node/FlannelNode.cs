using System.Threading.Channels;
using Flannel.TrafficRules;
using Microsoft.Extensions.Logging;

namespace Flannel.Node;

/// <summary>
/// One flannel network on one node: what flanneld's main does — configuration, interface and public-IP
/// selection, lease, backend, optional previous-lease state, renewal, readiness — as a library object that a
/// host starts, stops (keeping the data path), tears down, restarts, and runs several of.
/// </summary>
/// <remarks>
/// The node never ends the process. Failures after start surface through <see cref="Completion"/>, which faults
/// with a typed exception (<see cref="LeaseRevokedException"/>, <see cref="BackendUnavailableException"/>,
/// <see cref="LeaseStoreUnavailableException"/>, <see cref="FlannelConfigurationException"/>). A data path the kernel
/// keeps refusing (while the backend retries) is not a failure: the node stays Ready and raises
/// <see cref="NodeEventKind.DataPathDegraded"/>, then <see cref="NodeEventKind.DataPathRestored"/>.
/// </remarks>
public sealed class FlannelNode : IAsyncDisposable
{
    private readonly FlannelNodeOptions _options;
    private readonly FlannelNodeServices _services;
    private readonly BackendRegistry _backends;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly List<Channel<NodeEvent>> _subscribers = [];
    private CancellationTokenSource? _runCts;
    private Task? _runTask;
    private INetwork? _network;
    private Lease? _lease;
    private NetworkConfig? _config;
    private ExternalInterface? _interface;
    private CancellationTokenSource _leaseChanged = new();
    private IDisposable? _claim;
    private NodeState _state = NodeState.Created;
    private string? _dataPathProblem;
    private DateTimeOffset _degradedSince;

    /// <summary>Creates a node; nothing is touched until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The node's options.</param>
    /// <param name="services">The node's collaborators.</param>
    public FlannelNode(FlannelNodeOptions options, FlannelNodeServices services)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        if (options.RenewMargin < TimeSpan.FromMinutes(1) || options.RenewMargin > TimeSpan.FromMinutes(1439))
        {
            throw new FlannelConfigurationException("RenewMargin", options.RenewMargin.TotalMinutes.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be between 1 and 1439 minutes");
        }

        if (options.Interface.Explicit is null && services.InterfaceResolver is null)
        {
            throw new ArgumentException("an IInterfaceResolver is required unless FlannelNodeOptions.Interface.Explicit is set", nameof(services));
        }

        _options = options;
        _services = services;
        _backends = new BackendRegistry(services.Backends);
        _logger = services.LoggerFactory.CreateLogger("Flannel.Node." + options.InstanceName);
    }

    /// <summary>The node's options.</summary>
    public FlannelNodeOptions Options => _options;

    /// <summary>The current lifecycle state.</summary>
    public NodeState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>
    /// Completes when the node is ready: lease held, data path programmed, state saved. Faults when starting fails.
    /// </summary>
    public Task Ready => _ready.Task;

    /// <summary>
    /// Completes when the node stops (after <see cref="StopAsync"/>), or faults with a typed exception when a
    /// background part fails (lease revoked, backend failure, store outage).
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>The lease the node holds, or null before it has one.</summary>
    public Lease? CurrentLease => Volatile.Read(ref _lease);

    /// <summary>The validated network configuration in use, or null before start.</summary>
    public NetworkConfig? NetworkConfig => _config;

    /// <summary>The underlay interface in use, or null before start.</summary>
    public ExternalInterface? Interface => _interface;

    /// <summary>The MTU pods should use, or null before start.</summary>
    public int? Mtu => _network?.Mtu;

    /// <summary>
    /// The data-path problem the backend last reported and has not repaired yet (for example: a peer's route the
    /// kernel refuses while the underlay interface is down), or null when every peer is programmed. See
    /// <see cref="NodeEventKind.DataPathDegraded"/>.
    /// </summary>
    public string? DataPathProblem
    {
        get
        {
            lock (_gate)
            {
                return _dataPathProblem;
            }
        }
    }

    /// <summary>Raised for every <see cref="NodeEvent"/>, synchronously; handler exceptions are logged and ignored.</summary>
    public event EventHandler<NodeEvent>? EventRaised;

    /// <summary>
    /// Starts the node and returns when it is ready. Cancelling <paramref name="cancellationToken"/> aborts the start
    /// (the node is then stopped; what was already programmed stays).
    /// </summary>
    /// <param name="cancellationToken">Aborts the start.</param>
    /// <returns>A task that completes when the node is ready.</returns>
    /// <exception cref="InvalidOperationException">The node was already started.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_state != NodeState.Created)
            {
                throw new InvalidOperationException($"node {_options.InstanceName} was already started (state {_state}); create a new FlannelNode to start again");
            }
        }

        // Everything this node runs — the backend, the lease manager, the rules, the background loops started
        // below — logs inside this scope, so several nodes in one process can be told apart in any log sink.
        using var scope = _logger.BeginScope(new KeyValuePair<string, object?>[] { new("FlannelInstance", _options.InstanceName), new("NodeName", _options.NodeName) });
        SetState(NodeState.Starting);
        NodeLog.Starting(_logger, _options.InstanceName);
        try
        {
            var config = await GetConfigAsync(cancellationToken).ConfigureAwait(false);
            _config = config;
            var factory = _backends.GetFactory(config.BackendType);
            var previous = _services.StateStore is null ? null : await _services.StateStore.LoadAsync(cancellationToken).ConfigureAwait(false);

            var iface = _options.Interface.Explicit
                ?? await _services.InterfaceResolver!.ResolveAsync(_options.Interface, _options.PublicIP, _options.PublicIPv6, config, cancellationToken).ConfigureAwait(false);
            _interface = iface;
            NodeLog.InterfaceSelected(_logger, iface.Name, iface.Index, iface.Mtu, iface.Address ?? iface.IPv6Address, iface.PublicIP ?? iface.PublicIPv6);
            await BackendGuard.EnsureNodeCanStartAsync(_services.SubnetManager, iface.PublicIP, config.BackendType, previous, _options.AllowBackendChange, cancellationToken).ConfigureAwait(false);

            var context = new BackendContext
            {
                SubnetManager = _services.SubnetManager,
                Interface = iface,
                InstanceName = _options.InstanceName,
                NetworkNamespacePath = _options.NetworkNamespacePath,
                PreviousSubnet = previous?.Subnet,
                PreviousIPv6Subnet = previous?.IPv6Subnet,
                LoggerFactory = _services.LoggerFactory,
                TimeProvider = _services.TimeProvider,
                MeterFactory = _services.MeterFactory,
                DataPath = new DataPathMonitor(this),
            };

            _claim = ClaimResources(factory, config, context);
            await CleanUpPreviousBackendAsync(config, previous, context, cancellationToken).ConfigureAwait(false);
            INetwork network;
            try
            {
                network = await factory.Create(context).RegisterNetworkAsync(config, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not FlannelException and not OperationCanceledException)
            {
                throw new BackendUnavailableException($"backend {config.BackendType} could not register the network: {ex.Message}", ex);
            }

            _network = network;
            Volatile.Write(ref _lease, network.Lease);
            NodeLog.LeaseAcquired(_logger, new Internal.SubnetsText(network.Lease.Subnet, network.Lease.IPv6Subnet), config.BackendType, network.Mtu);
            Raise(NodeEventKind.LeaseAcquired, network.Lease);

            if (_services.TrafficManager is { } traffic)
            {
                await ApplyTrafficRulesAsync(traffic, config, network.Lease, previous, cancellationToken).ConfigureAwait(false);
            }

            if (_services.StateStore is { } store)
            {
                await store.SaveAsync(SubnetEnvironment.FromLease(config, network.Lease, network.Mtu, _options.IPMasq) with { BackendType = config.BackendType }, cancellationToken).ConfigureAwait(false);
            }

            _runCts = new CancellationTokenSource();
            _runTask = RunAsync(network, _runCts.Token);
            SetState(NodeState.Ready);
            NodeLog.Ready(_logger);
            _ready.TrySetResult();
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            SetState(NodeState.Stopped);
            _ready.TrySetCanceled(cancellationToken);
            _completion.TrySetCanceled(ex.CancellationToken);
            throw;
        }
        catch (Exception ex)
        {
            NodeLog.Faulted(_logger, ex);
            SetState(NodeState.Faulted, ex);
            _ready.TrySetException(ex);
            _completion.TrySetException(ex);
            throw;
        }
    }

    /// <summary>
    /// Stops following peers and renewing; the data path (devices, routes, entries, rules) stays in place so that
    /// pods keep working across a restart. Idempotent; safe to call during start.
    /// </summary>
    /// <param name="cancellationToken">Bounds how long to wait for background work to end.</param>
    /// <returns>A task that completes when the node has stopped.</returns>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        CancellationTokenSource? cts;
        Task? run;
        lock (_gate)
        {
            if (_state is NodeState.Stopped or NodeState.TornDown or NodeState.Created)
            {
                if (_state == NodeState.Created)
                {
                    _state = NodeState.Stopped;
                    _completion.TrySetResult();
                }

                return;
            }

            cts = _runCts;
            run = _runTask;
        }

        var faulted = State == NodeState.Faulted;
        if (!faulted)
        {
            SetState(NodeState.Stopping);
        }

        if (cts is not null)
        {
            await cts.CancelAsync().ConfigureAwait(false);
        }

        if (run is not null)
        {
            try
            {
                await run.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The run task reports its own faults through Completion.
            }
        }

        if (!faulted)
        {
            SetState(NodeState.Stopped);
            NodeLog.Stopped(_logger);
            _completion.TrySetResult();
        }
    }

    /// <summary>
    /// Stops the node, then removes everything it created: the backend's data path, the saved state, and its
    /// lease (released so the subnet can be reused). Steps that fail are logged and reported together.
    /// </summary>
    /// <param name="cancellationToken">Cancels the teardown.</param>
    /// <returns>A task that completes when the node is torn down.</returns>
    /// <exception cref="FlannelException">One or more teardown steps failed (see the inner exception).</exception>
    public async Task TeardownAsync(CancellationToken cancellationToken)
    {
        await StopAsync(cancellationToken).ConfigureAwait(false);
        var errors = new List<Exception>();
        if (_network is { } network)
        {
            await Step("backend", async () => await network.TeardownAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        if (_options.BlackholeRoute && OperatingSystem.IsLinux() && CurrentLease is { } own)
        {
            await Step("blackhole route", async () =>
            {
                await using var table = OpenKernelRouteTable();
                foreach (var route in BlackholeRoutes(own))
                {
                    await table.DeleteAsync(route, cancellationToken).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        }

        if (_services.TrafficManager is { } traffic)
        {
            await Step("traffic rules", async () => await traffic.TeardownAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        if (_services.StateStore is { } store)
        {
            await Step("state", async () => await store.DeleteAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        if (CurrentLease is { } lease)
        {
            await Step("lease", async () => await _services.SubnetManager.ReleaseLeaseAsync(lease, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        }

        SetState(NodeState.TornDown);
        NodeLog.TornDown(_logger);
        if (errors.Count > 0)
        {
            throw new FlannelException($"teardown of node {_options.InstanceName} was incomplete: {string.Join("; ", errors.Select(e => e.Message))}", new AggregateException(errors));
        }

        async Task Step(string name, Func<Task> action)
        {
            try
            {
                await action().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                NodeLog.TeardownStepFailed(_logger, ex, name);
                errors.Add(ex);
            }
        }
    }

    /// <summary>
    /// Checks a new network configuration against the running one: the backend type is fixed once set, so a
    /// different type is rejected (the running backend keeps running).
    /// </summary>
    /// <param name="config">The new configuration.</param>
    /// <exception cref="FlannelConfigurationException">The backend type differs.</exception>
    public void EnsureCompatible(NetworkConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (_config is { } running)
        {
            BackendGuard.EnsureUnchanged(running.BackendType, config);
        }
    }

    /// <summary>
    /// Streams the node's events (state changes, own lease, peers) from now on, until the node stops, faults or is
    /// torn down, or <paramref name="cancellationToken"/> is cancelled. Each call gets every event.
    /// </summary>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>The events.</returns>
    public IAsyncEnumerable<NodeEvent> WatchEventsAsync(CancellationToken cancellationToken = default)
    {
        // Subscribe now, not when enumeration starts, so that "from now on" means from this call.
        var channel = Channel.CreateUnbounded<NodeEvent>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            if (_state is NodeState.Stopped or NodeState.Faulted or NodeState.TornDown)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers.Add(channel);
            }
        }

        return ReadEventsAsync(channel, cancellationToken);
    }

    private async IAsyncEnumerable<NodeEvent> ReadEventsAsync(Channel<NodeEvent> channel, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var e))
                {
                    yield return e;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _subscribers.Remove(channel);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_network is { } network)
        {
            await network.DisposeAsync().ConfigureAwait(false);
        }

        _runCts?.Dispose();
        _leaseChanged.Dispose();
    }

    private async Task<NetworkConfig> GetConfigAsync(CancellationToken ct)
    {
        if (_options.NetworkConfig is { } inCode)
        {
            return inCode.Validate();
        }

        var warned = 0;
        while (true)
        {
            try
            {
                return (await _services.SubnetManager.GetNetworkConfigAsync(ct).ConfigureAwait(false)).Validate();
            }
            catch (FlannelException ex) when (ex is not FlannelConfigurationException)
            {
                if (warned++ % 60 == 0)
                {
                    NodeLog.ConfigNotReady(_logger, _options.ConfigRetryInterval, ex.Message);
                }

                await Task.Delay(_options.ConfigRetryInterval, _services.TimeProvider, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// With <see cref="FlannelNodeOptions.AllowBackendChange"/>, removes what the previously recorded backend left
    /// (subnet.env's type, else this node's lease in the store) so that its data path cannot outlive the switch.
    /// </summary>
    private async Task CleanUpPreviousBackendAsync(NetworkConfig config, SubnetEnvironment? previous, BackendContext context, CancellationToken ct)
    {
        if (!_options.AllowBackendChange)
        {
            return;
        }

        var before = previous?.BackendType ?? default;
        if (before.IsEmpty && context.Interface.PublicIP is { } ip)
        {
            var leases = await _services.SubnetManager.ListLeasesAsync(ct).ConfigureAwait(false);
            if (leases.Leases.FirstOrDefault(l => ip.Equals(l.Attributes.PublicIP))?.Attributes.BackendType is { Length: > 0 } type)
            {
                before = new BackendType(type);
            }
        }

        if (!before.IsEmpty && before != config.BackendType && _backends.TryGetFactory(before, out var old) && old is IBackendCleanup cleanup)
        {
            NodeLog.CleaningPreviousBackend(_logger, before);
            await cleanup.CleanupAsync(context, ct).ConfigureAwait(false);
        }
    }

    private IDisposable? ClaimResources(IBackendFactory factory, NetworkConfig config, BackendContext context)
    {
        if (_services.Claims is not { } claims)
        {
            return null;
        }

        var scope = "netns:" + (_options.NetworkNamespacePath ?? "(self)") + " ";
        var keys = new List<string> { "instance:" + _options.InstanceName };
        if (factory is IBackendResources resources)
        {
            keys.AddRange(resources.GetResources(config, context).Select(r => scope + r));
        }

        if (_services.StateStore is SubnetEnvStateStore file)
        {
            keys.Add("file:" + Path.GetFullPath(file.Path));
        }

        return claims.Claim(_options.InstanceName, keys);
    }

    private async Task RunAsync(INetwork network, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tasks = new[]
        {
            Guard(network.RunAsync(linked.Token), "backend"),
            Guard(RenewLoopAsync(linked.Token), "renewal", store: true),
            Guard(WatchOwnLeaseAsync(linked.Token), "own lease watch", store: true),
            Guard(WatchPeersAsync(linked.Token), "peer watch", store: true),
            Guard(_services.TrafficManager is { } traffic ? traffic.RunResyncAsync(linked.Token) : Task.Delay(Timeout.Infinite, linked.Token), "traffic rules"),
            Guard(_options.BlackholeRoute ? BlackholeLoopAsync(linked.Token) : Task.Delay(Timeout.Infinite, linked.Token), "blackhole route"),
        };
        var first = await Task.WhenAny(tasks).ConfigureAwait(false);
        await linked.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            // The first failure is reported below.
        }

        if (first.IsFaulted && !ct.IsCancellationRequested)
        {
            var error = first.Exception!.InnerException!;
            NodeLog.Faulted(_logger, error);
            SetState(NodeState.Faulted, error);
            _completion.TrySetException(error);
        }

        async Task Guard(Task task, string part, bool store = false)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                return;
            }
            catch (FlannelException)
            {
                throw;
            }
            catch (Exception ex) when (store)
            {
                throw new LeaseStoreUnavailableException($"the lease store failed ({part}): {ex.Message}", ex);
            }
            catch (Exception ex)
            {
                throw new BackendUnavailableException($"{part} failed: {ex.Message}", ex);
            }

            if (!linked.IsCancellationRequested)
            {
                throw store
                    ? new LeaseStoreUnavailableException($"the lease store ended the {part}")
                    : new BackendUnavailableException($"{part} ended unexpectedly");
            }
        }
    }

    private async Task RenewLoopAsync(CancellationToken ct)
    {
        var time = _services.TimeProvider;
        while (!ct.IsCancellationRequested)
        {
            var lease = CurrentLease!;
            CancellationTokenSource changed;
            lock (_gate)
            {
                changed = _leaseChanged;
            }

            using var wake = CancellationTokenSource.CreateLinkedTokenSource(ct, changed.Token);
            if (lease.Expiration is not { } expiration)
            {
                // A reservation has no TTL: nothing to renew until the lease changes.
                await WaitAsync(Timeout.InfiniteTimeSpan, wake.Token, ct).ConfigureAwait(false);
                continue;
            }

            var due = expiration - _options.RenewMargin - time.GetUtcNow();
            if (due > TimeSpan.Zero)
            {
                if (!await WaitAsync(due, wake.Token, ct).ConfigureAwait(false))
                {
                    continue;
                }
            }

            try
            {
                var renewed = await _services.SubnetManager.RenewLeaseAsync(lease, ct).ConfigureAwait(false);
                Volatile.Write(ref _lease, renewed);
                NodeLog.LeaseRenewed(_logger, new Internal.ExpiryText(renewed.Expiration));
                Raise(NodeEventKind.LeaseChanged, renewed);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                NodeLog.RenewFailed(_logger, ex, _options.RenewRetryInterval);
                await Task.Delay(_options.RenewRetryInterval, time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for the delay; false when woken early by a lease change, throws when the node stops.</summary>
    private async Task<bool> WaitAsync(TimeSpan delay, CancellationToken wake, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, _services.TimeProvider, wake).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task WatchPeersAsync(CancellationToken ct)
    {
        await foreach (var batch in LeaseWatcher.WatchPeersAsync(_services.SubnetManager, CurrentLease, ct).ConfigureAwait(false))
        {
            foreach (var e in batch)
            {
                Peer(e.Kind, e.Lease);
            }
        }
    }

    private async Task WatchOwnLeaseAsync(CancellationToken ct)
    {
        await foreach (var e in LeaseWatcher.WatchOwnLeaseAsync(_services.SubnetManager, CurrentLease!, ct).ConfigureAwait(false))
        {
            if (e.Kind == LeaseEventKind.Added)
            {
                OwnLeaseUpdated(e.Lease);
            }
            else
            {
                await OwnLeaseLostAsync(CurrentLease!, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task BlackholeLoopAsync(CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("blackhole routes need Linux");
        }

        await using var table = OpenKernelRouteTable();
        while (!ct.IsCancellationRequested)
        {
            foreach (var route in BlackholeRoutes(CurrentLease!))
            {
                await table.ReplaceAsync(route, ct).ConfigureAwait(false);
            }

            await Task.Delay(_options.BlackholeRoutePeriod, _services.TimeProvider, ct).ConfigureAwait(false);
        }
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private Flannel.Kernel.KernelRouteTable OpenKernelRouteTable()
    {
        // The table's netlink socket is bound to the namespace when it is created; the handle can go right after.
        using var ns = _options.NetworkNamespacePath is { } path ? Flannel.Netlink.NetworkNamespace.OpenByPath(path) : null;
        return new(new Flannel.Kernel.KernelRouteTableOptions { Namespace = ns });
    }

    private static IEnumerable<OverlayRoute> BlackholeRoutes(Lease lease)
    {
        foreach (var subnet in new[] { lease.Subnet, lease.IPv6Subnet })
        {
            if (subnet is { } s)
            {
                yield return new OverlayRoute(s) { Type = OverlayRouteType.Blackhole };
            }
        }
    }

    private async Task ApplyTrafficRulesAsync(ITrafficManager traffic, NetworkConfig config, Lease lease, SubnetEnvironment? previous, CancellationToken ct)
    {
        await traffic.InitializeAsync(ct).ConfigureAwait(false);
        var current = new TrafficNetworks
        {
            Network = config.EnableIPv4 ? config.Network : null,
            Subnet = lease.Subnet,
            IPv6Network = config.EnableIPv6 ? config.IPv6Network : null,
            IPv6Subnet = lease.IPv6Subnet,
        };
        if (_options.IPMasq)
        {
            var before = previous is null ? null : new TrafficNetworks
            {
                Network = previous.Network,
                Subnet = previous.Subnet,
                IPv6Network = previous.IPv6Network,
                IPv6Subnet = previous.IPv6Subnet,
            };
            await traffic.EnsureMasqueradeRulesAsync(current, before, ct).ConfigureAwait(false);
        }

        await traffic.EnsureForwardRulesAsync(current, ct).ConfigureAwait(false);
    }

    private void Peer(LeaseEventKind kind, Lease lease)
    {
        NodeLog.Peer(_logger, kind, lease.Subnet ?? lease.IPv6Subnet, lease.Attributes.PublicIP ?? lease.Attributes.PublicIPv6);
        Raise(kind == LeaseEventKind.Added ? NodeEventKind.PeerAdded : NodeEventKind.PeerRemoved, lease);
    }

    private void OwnLeaseUpdated(Lease fromStore)
    {
        var current = CurrentLease!;
        if (!Equals(fromStore.Attributes.PublicIP, current.Attributes.PublicIP) || !Equals(fromStore.Attributes.PublicIPv6, current.Attributes.PublicIPv6))
        {
            throw new LeaseRevokedException($"the subnet {Describe(current)} of this node is now leased to {fromStore.Attributes.PublicIP ?? fromStore.Attributes.PublicIPv6} in the store; pods on this node must be re-created in a new subnet");
        }

        if (fromStore.Expiration == current.Expiration && fromStore.Attributes == current.Attributes)
        {
            return;
        }

        Volatile.Write(ref _lease, fromStore);
        WakeRenewal();
        Raise(NodeEventKind.LeaseChanged, fromStore);
    }

    private async Task OwnLeaseLostAsync(Lease own, CancellationToken ct)
    {
        NodeLog.LeaseLost(_logger, own.Subnet ?? own.IPv6Subnet);
        Raise(NodeEventKind.LeaseLost, own);
        if (!_options.ReacquireLostLease)
        {
            throw new LeaseRevokedException($"the lease of {Describe(own)} was removed from the store");
        }

        var again = await _services.SubnetManager.AcquireLeaseAsync(
            new LeaseRequest(own.Attributes) { PreviousSubnet = own.Subnet, PreviousIPv6Subnet = own.IPv6Subnet },
            ct).ConfigureAwait(false);
        if (!SameSubnets(again, own))
        {
            await _services.SubnetManager.ReleaseLeaseAsync(again, ct).ConfigureAwait(false);
            throw new LeaseRevokedException($"the lease of {Describe(own)} was removed from the store and the subnet is no longer free (the store offered {Describe(again)}); pods on this node must be re-created in a new subnet");
        }

        Volatile.Write(ref _lease, again);
        WakeRenewal();
        NodeLog.LeaseReacquired(_logger, again.Subnet ?? again.IPv6Subnet);
        Raise(NodeEventKind.LeaseAcquired, again);
    }

    private void WakeRenewal()
    {
        CancellationTokenSource old;
        lock (_gate)
        {
            old = _leaseChanged;
            _leaseChanged = new CancellationTokenSource();
        }

        old.Cancel();
        old.Dispose();
    }

    private static bool SameSubnets(Lease a, Lease b) => a.Subnet == b.Subnet && a.IPv6Subnet == b.IPv6Subnet;

    private static string Describe(Lease l) =>
        string.Join(" + ", new[] { l.Subnet?.ToString(), l.IPv6Subnet?.ToString() }.Where(s => s is not null));

    private void DataPathProblemReported(string problem, Exception? error)
    {
        bool began;
        lock (_gate)
        {
            if (_state is not (NodeState.Starting or NodeState.Ready))
            {
                return;
            }

            began = _dataPathProblem is null;
            _dataPathProblem = problem;
            if (began)
            {
                _degradedSince = _services.TimeProvider.GetUtcNow();
            }
        }

        if (began)
        {
            NodeLog.DataPathDegraded(_logger, error, problem);
            Raise(NodeEventKind.DataPathDegraded, CurrentLease, new BackendUnavailableException($"data path degraded: {problem}", error));
        }
    }

    private void DataPathHealthy()
    {
        TimeSpan duration;
        lock (_gate)
        {
            if (_dataPathProblem is null || _state is not (NodeState.Starting or NodeState.Ready))
            {
                return;
            }

            _dataPathProblem = null;
            duration = _services.TimeProvider.GetUtcNow() - _degradedSince;
        }

        NodeLog.DataPathRestored(_logger, duration);
        Raise(NodeEventKind.DataPathRestored, CurrentLease);
    }

    private void SetState(NodeState state, Exception? error = null)
    {
        lock (_gate)
        {
            if (_state == state)
            {
                return;
            }

            _state = state;
        }

        Raise(NodeEventKind.StateChanged, CurrentLease, error);
        if (state is NodeState.Stopped or NodeState.Faulted or NodeState.TornDown)
        {
            Interlocked.Exchange(ref _claim, null)?.Dispose();
            lock (_gate)
            {
                foreach (var s in _subscribers)
                {
                    s.Writer.TryComplete();
                }
            }
        }
    }

    private void Raise(NodeEventKind kind, Lease? lease, Exception? error = null)
    {
        var e = new NodeEvent(kind, State, lease, error);
        List<Channel<NodeEvent>> subscribers;
        lock (_gate)
        {
            subscribers = [.. _subscribers];
        }

        foreach (var s in subscribers)
        {
            s.Writer.TryWrite(e);
        }

        try
        {
            EventRaised?.Invoke(this, e);
        }
        catch (Exception ex)
        {
            NodeLog.TeardownStepFailed(_logger, ex, "event handler");
        }
    }

    /// <summary>The node's side of <see cref="BackendContext.DataPath"/>.</summary>
    private sealed class DataPathMonitor(FlannelNode node) : IDataPathMonitor
    {
        public void ReportProblem(string problem, Exception? cause)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(problem);
            node.DataPathProblemReported(problem, cause);
        }

        public void ReportHealthy() => node.DataPathHealthy();
    }
}
