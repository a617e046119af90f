using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.TrafficRules;

/// <summary>
/// What the iptables and nftables engines share: the options, logger, clock and tool plumbing of one instance, the
/// rules wanted per family, the gate that serialises every call, and the flow of each <see cref="ITrafficManager"/>
/// call (record what is wanted, then bring each family in line, independently, and report the first failure; resync;
/// clean up the other engine; tear down), with its logs. A derived engine supplies only what is its own: how the rules
/// of a family are rendered, read back, checked and applied, and which artefacts are its own and the other engine's.
/// </summary>
/// <remarks>
/// Internal: the public <see cref="IptablesTrafficManager"/> and <see cref="NftablesTrafficManager"/> each wrap one
/// engine, so the public types stay sealed and their API unchanged.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The SemaphoreSlim never allocates a wait handle (AvailableWaitHandle is not used), so there is nothing to dispose.")]
internal abstract class TrafficRuleEngineBase : ITrafficManager
{
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly WantedRules[] _families = [new(IpFamily.V4), new(IpFamily.V6)];
    private readonly TrafficRuleMetrics _metrics;

    /// <summary>Validates the options and sets up the tool plumbing; nothing runs until the first call.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of the resync loop, or null for the system clock.</param>
    /// <param name="engine">The engine's name in logs (<c>iptables</c>, <c>nftables</c>).</param>
    /// <param name="loggerCategory">The logger category.</param>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    protected TrafficRuleEngineBase(TrafficRuleOptions options, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, string engine, string loggerCategory)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Engine = engine;
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(loggerCategory);
        _timeProvider = timeProvider ?? TimeProvider.System;
        var runner = new ToolRunner(options, Logger);
        Iptables = new IptablesBackend(options, runner, Logger);
        Nftables = new NftablesBackend(options, runner, Logger);
        _metrics = new TrafficRuleMetrics(options.MeterFactory, engine);
    }

    /// <summary>The validated options.</summary>
    protected TrafficRuleOptions Options { get; }

    /// <summary>The engine's name in logs.</summary>
    protected string Engine { get; }

    /// <summary>The logger of this instance.</summary>
    protected ILogger Logger { get; }

    /// <summary>iptables/ip6tables plumbing (this engine's, or the other engine's for clean-up).</summary>
    protected IptablesBackend Iptables { get; }

    /// <summary>nft plumbing (this engine's, or the other engine's for clean-up).</summary>
    protected NftablesBackend Nftables { get; }

    /// <inheritdoc />
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        if (!Options.CleanUpOtherEngine)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var step in OtherEngineArtefacts())
            {
                try
                {
                    var removed = await step.RemoveAsync(cancellationToken).ConfigureAwait(false);
                    if (removed is not null)
                    {
                        TrafficRulesLog.OtherEngineCleaned(Logger, step.Tool, removed);
                    }
                }
                catch (TrafficRuleException ex)
                {
                    TrafficRulesLog.OtherEngineCleanupFailed(Logger, step.Tool, ex);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EnsureMasqueradeRulesAsync(TrafficNetworks current, TrafficNetworks? previous, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(current);
        current.Validate(nameof(current), requireSubnet: true);
        previous?.Validate(nameof(previous), requireSubnet: false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Record what is wanted in every family first, so a failure in one still leaves the resync loop
            // knowing the other; then bring each family in line, and report the first failure at the end.
            var touch = new bool[_families.Length];
            foreach (var f in _families)
            {
                var network = current.NetworkOf(f.Family);
                var wanted = Options.Masquerade(f.Family) && network is not null;
                touch[(int)f.Family] = wanted || network is not null || f.Masquerade is not null || previous?.NetworkOf(f.Family) is not null;
                f.Masquerade = wanted ? (network!.Value, current.SubnetOf(f.Family)!.Value) : null;
            }

            await TrafficRuleFamilies.ForEachAsync(
                _families.Where(f => touch[(int)f.Family]),
                f => Counted(f, () => ApplyMasqueradeAsync(f, TrafficRuleFamilies.DescribePrevious(current, previous, f.Family), cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask EnsureForwardRulesAsync(TrafficNetworks networks, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(networks);
        networks.Validate(nameof(networks), requireSubnet: false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var touch = new bool[_families.Length];
            foreach (var f in _families)
            {
                var network = networks.NetworkOf(f.Family);
                touch[(int)f.Family] = network is not null || f.Forward is not null;
                f.Forward = Options.ForwardRules ? network : null;
            }

            await TrafficRuleFamilies.ForEachAsync(
                _families.Where(f => touch[(int)f.Family]),
                f => Counted(f, () => ApplyForwardAsync(f, cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ResyncAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var repaired = false;
            await TrafficRuleFamilies.ForEachAsync(
                _families.Where(f => f.Masquerade is not null || f.Forward is not null),
                async f =>
                {
                    string? where;
                    try
                    {
                        where = await RepairAsync(f, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        _metrics.Failed(f.Family);
                        throw;
                    }

                    _metrics.Resynced(f.Family, repaired: where is not null);
                    if (where is null)
                    {
                        TrafficRulesLog.ResyncInPlace(Logger, Engine, f.Name);
                        return;
                    }

                    TrafficRulesLog.RulesRepaired(Logger, LogName(f.Family), f.Name, where);
                    repaired = true;
                }).ConfigureAwait(false);

            return repaired;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                f.Masquerade = null;
                f.Forward = null;
            }

            Forget();
            await TrafficRuleFamilies.ForEachAsync(
                OwnArtefacts(),
                async step =>
                {
                    var removed = await step.RemoveAsync(cancellationToken).ConfigureAwait(false);
                    if (removed is not null)
                    {
                        TrafficRulesLog.TornDown(Logger, step.Tool, removed);
                    }
                }).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public Task RunResyncAsync(CancellationToken cancellationToken) =>
        TrafficRuleResync.RunAsync(this, Options.ResyncPeriod, Logger, _timeProvider, cancellationToken);

    /// <summary>Awaits one family's ensure and counts it in <c>flannel.rules.failures</c> when it fails.</summary>
    private async Task Counted(WantedRules f, Func<Task> apply)
    {
        try
        {
            await apply().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.Failed(f.Family);
            throw;
        }
    }

    /// <summary>The name that log lines about a family's rules carry: the tool (<c>iptables</c>, <c>ip6tables</c>) or the engine.</summary>
    protected abstract string LogName(IpFamily family);

    /// <summary>
    /// Brings the masquerade part of one family in line with <see cref="WantedRules.Masquerade"/>: installs it, or
    /// removes what this instance's names own when it is null; logs what changed.
    /// </summary>
    /// <param name="f">The family and what is wanted in it.</param>
    /// <param name="previous">"previous network N, subnet P" when the rules replace another lease's, else null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    protected abstract Task ApplyMasqueradeAsync(WantedRules f, string? previous, CancellationToken cancellationToken);

    /// <summary>Brings the forward part of one family in line with <see cref="WantedRules.Forward"/>; logs what changed.</summary>
    protected abstract Task ApplyForwardAsync(WantedRules f, CancellationToken cancellationToken);

    /// <summary>
    /// Reads back one family's rules (something is wanted in it), and reinstalls them when they differ from what is
    /// wanted. Returns where it repaired (for the log), or null when everything was in place.
    /// </summary>
    protected abstract Task<string?> RepairAsync(WantedRules f, CancellationToken cancellationToken);

    /// <summary>The removals of this instance's artefacts of the other engine (<see cref="InitializeAsync"/>).</summary>
    protected abstract IEnumerable<Removal> OtherEngineArtefacts();

    /// <summary>The removals of everything this engine's names own (<see cref="TeardownAsync"/>).</summary>
    protected abstract IEnumerable<Removal> OwnArtefacts();

    /// <summary>Drops what the engine remembers beyond the wanted rules; called by teardown, after they are cleared.</summary>
    protected virtual void Forget()
    {
    }

    /// <summary>Removal of this instance's iptables and ip6tables chains and the jumps to them, one per family.</summary>
    protected IEnumerable<Removal> IptablesChains() =>
        _families.Select(f => new Removal(IptablesBackend.Name(f.Family), ct => Iptables.RemoveOwnChainsAsync(f.Family, ct)));

    /// <summary>Removal of this instance's nftables tables (both families at once).</summary>
    protected IEnumerable<Removal> NftablesTables() => [new Removal("nftables", Nftables.DeleteOwnTablesAsync)];

    /// <summary>One removal step: the name logs give it, and the step, which returns what it removed or null for nothing.</summary>
    /// <param name="Tool">The tool or engine named in logs.</param>
    /// <param name="RemoveAsync">Removes the artefacts; returns what was removed, or null.</param>
    protected readonly record struct Removal(string Tool, Func<CancellationToken, Task<string?>> RemoveAsync);

    /// <summary>What this instance wants in place for one family.</summary>
    protected sealed class WantedRules(IpFamily family)
    {
        /// <summary>The family.</summary>
        public IpFamily Family { get; } = family;

        /// <summary>The family's name in logs.</summary>
        public string Name { get; } = family == IpFamily.V4 ? "IPv4" : "IPv6";

        /// <summary>The network and lease subnet of the masquerade rules, or null for none.</summary>
        public (IPNetwork Network, IPNetwork Subnet)? Masquerade { get; set; }

        /// <summary>The network of the forward rules, or null for none.</summary>
        public IPNetwork? Forward { get; set; }
    }
}
