using Flannel;
using Flannel.Cloud.Ali;
using Flannel.Cloud.Aws;
using Flannel.Cloud.Gce;
using Flannel.Etcd;
using Flannel.HostGw;
using Flannel.Node;
using Flannel.Sqlite;
using Flannel.TrafficRules;
using Flannel.Udp;
using Flannel.Vxlan;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Flanneld;

/// <summary>The run and cleanup commands: flags → Flannel.Net options → a Generic Host with a FlannelNode.</summary>
internal static partial class Daemon
{
    public static async Task<int> RunAsync(DaemonSettings s, CancellationToken ct)
    {
        using var loggerFactory = CreateLoggerFactory(s.Verbosity);
        var log = loggerFactory.CreateLogger("flanneld");
        using var exporter = new PrometheusExporter();
        using var metrics = new NodeMetrics();
        FlannelNode? node = null;
        await using var health = s.HealthzPort > 0
            ? new HealthServer(s.HealthzIP, s.HealthzPort, () => node?.State == NodeState.Ready, exporter.Render)
            : null;
        if (health is not null)
        {
            try
            {
                health.Start();
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                throw new FlannelConfigurationException("--healthz-port", $"{s.HealthzIP}:{s.HealthzPort}", $"cannot listen: {ex.Message}", ex);
            }
        }

        await using var store = await OpenStoreAsync(s, loggerFactory, ct).ConfigureAwait(false);
        var config = await GetConfigAsync(store.Manager, log, ct).ConfigureAwait(false);
        WarnWithoutBrNetfilter(config, s, log);
        if (config.BackendDefaulted)
        {
            LogBackendDefaulted(log);
        }

        using var host = BuildHost(s, config, store.Manager, loggerFactory);
        node = host.Services.GetRequiredService<FlannelNode>();
        metrics.Attach(node);
        using var trim = new StartupTrim(node, log, ct);
        try
        {
            await host.RunAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not FlannelException and not OperationCanceledException)
        {
            throw new BackendUnavailableException(Describe(ex), ex);
        }

        if (node.Completion.IsFaulted)
        {
            var error = node.Completion.Exception!.InnerException!;
            Console.Error.WriteLine($"flanneld: {(error is FlannelException ? error.Message : Describe(error))}");
            return 1;
        }

        LogExiting(log);
        return 0;
    }

    public static async Task<int> CleanupAsync(DaemonSettings s, CancellationToken ct)
    {
        using var loggerFactory = CreateLoggerFactory(s.Verbosity);
        var log = loggerFactory.CreateLogger("flanneld");
        await using var store = await OpenStoreAsync(s, loggerFactory, ct).ConfigureAwait(false);
        var config = await GetConfigAsync(store.Manager, log, ct).ConfigureAwait(false);

        // Tear down what the previous run created, with the backend it ran (subnet.env records it).
        var previous = await SubnetEnvFile.ReadAsync(s.SubnetFile, ct).ConfigureAwait(false);
        if (previous is { BackendType.IsEmpty: false } env)
        {
            config = config with { BackendType = env.BackendType };
        }

        using var host = BuildHost(s with { AllowBackendChange = true }, config, store.Manager, loggerFactory);
        var node = host.Services.GetRequiredService<FlannelNode>();
        await node.StartAsync(ct).ConfigureAwait(false);
        await node.TeardownAsync(ct).ConfigureAwait(false);
        LogCleanedUp(log, config.BackendType.Value);
        return 0;
    }

    private static IHost BuildHost(DaemonSettings s, NetworkConfig config, ISubnetManager manager, ILoggerFactory loggerFactory)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSystemd();
        builder.Services.AddMetrics();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddSingleton<ISubnetManager>(manager);

        var flannel = builder.Services.AddFlannel()
            .AddVxlanBackend(o => o.StateDirectory = s.StateDirectory)
            .AddHostGwBackend()
            .AddUdpBackend()
            .AddAllocBackend()
            .AddAwsVpcBackend()
            .AddGceBackend()
            .AddAliVpcBackend()
            .AddSubnetFile(s.SubnetFile);

        if (s.IPMasq || s.ForwardRules)
        {
            flannel.AddTrafficRules(new TrafficRuleOptions
            {
                Engine = config.EnableNFTables ? TrafficRuleEngine.Nftables : TrafficRuleEngine.Iptables,
                MasqueradeIPv4 = s.IPMasq,
                MasqueradeIPv6 = s.IPMasq,
                ForwardRules = s.ForwardRules,
                FullyRandom = !s.FullyRandomDisabled,
                ResyncPeriod = TimeSpan.FromSeconds(s.IptablesResyncSeconds),
                NetworkNamespacePath = s.NetworkNamespacePath,
            });
        }

        flannel.AddNode(new FlannelNodeOptions
        {
            InstanceName = "flannel",
            NodeName = s.NodeName,
            NetworkConfig = config,
            Interface = new InterfaceSelection { Interfaces = s.Interfaces, Regexes = s.InterfaceRegexes, CanReach = s.InterfaceCanReach },
            PublicIP = s.PublicIP,
            PublicIPv6 = s.PublicIPv6,
            NetworkNamespacePath = s.NetworkNamespacePath,
            RenewMargin = TimeSpan.FromMinutes(s.RenewMarginMinutes),
            IPMasq = s.IPMasq,
            BlackholeRoute = s.BlackholeRoute,
            BlackholeRoutePeriod = TimeSpan.FromSeconds(s.IptablesResyncSeconds),
            AllowBackendChange = s.AllowBackendChange,
        });
        return builder.Build();
    }

    private static async Task<Store> OpenStoreAsync(DaemonSettings s, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        if (s.UsesEtcd)
        {
            var etcd = new EtcdLeaseRegistry(
                new EtcdLeaseRegistryOptions
                {
                    Endpoints = s.EtcdEndpoints,
                    Prefix = s.EtcdPrefix,
                    CaFile = s.EtcdCaFile,
                    CertFile = s.EtcdCertFile,
                    KeyFile = s.EtcdKeyFile,
                    Username = s.EtcdUsername,
                    Password = s.EtcdPassword,
                },
                loggerFactory.CreateLogger<EtcdLeaseRegistry>());
            return new Store(etcd, new LeaseManager(etcd, new LeaseManagerOptions { LoggerFactory = loggerFactory }));
        }

        NetworkConfig fileConfig;
        string text;
        try
        {
            text = await File.ReadAllTextAsync(s.NetConfigPath, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FlannelConfigurationException("--net-config-path", s.NetConfigPath, $"cannot read the network configuration ({ex.Message}); write net-conf.json there or point --net-config-path at it (or use etcd with --etcd-endpoints)", ex);
        }

        try
        {
            fileConfig = NetworkConfig.Parse(text).Validate();
        }
        catch (FlannelConfigurationException ex)
        {
            throw new FlannelConfigurationException($"{s.NetConfigPath}: {ex.Message}", ex);
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(s.DatastorePath));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        var sqlite = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = s.DatastorePath }, loggerFactory.CreateLogger<SqliteLeaseRegistry>());
        return new Store(sqlite, new LeaseManager(sqlite, new LeaseManagerOptions { NetworkConfig = fileConfig, LoggerFactory = loggerFactory }));
    }

    private static async Task<NetworkConfig> GetConfigAsync(LeaseManager manager, ILogger log, CancellationToken ct)
    {
        var attempt = 0;
        while (true)
        {
            try
            {
                return (await manager.GetNetworkConfigAsync(ct).ConfigureAwait(false)).Validate();
            }
            catch (FlannelException ex) when (ex is not FlannelConfigurationException && (ex.IsTransient || ex is NetworkConfigNotFoundException))
            {
                if (attempt++ % 30 == 0)
                {
                    LogConfigRetry(log, ex.Message);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
        }
    }

    private static void WarnWithoutBrNetfilter(NetworkConfig config, DaemonSettings s, ILogger log)
    {
        if (!config.EnableNFTables && (s.IPMasq || s.ForwardRules) && !File.Exists("/proc/sys/net/bridge/bridge-nf-call-iptables"))
        {
            LogNoBrNetfilter(log);
        }
    }

    private static ILoggerFactory CreateLoggerFactory(int verbosity) =>
        LoggerFactory.Create(b => b
            .SetMinimumLevel(verbosity switch { <= 0 => LogLevel.Information, 1 => LogLevel.Debug, _ => LogLevel.Trace })

            // The host's own start/stop failures are reported once, as the daemon's one-line error.
            .AddFilter("Microsoft.Extensions.Hosting", verbosity > 0 ? LogLevel.Debug : LogLevel.None)
            .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning)
            .AddProvider(new StderrLoggerProvider(stackTraces: verbosity > 0)));

    private static string Describe(Exception ex) => ex switch
    {
        UnauthorizedAccessException => $"permission denied ({ex.Message}); flanneld needs root (CAP_NET_ADMIN)",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    [LoggerMessage(EventId = 7100, Level = LogLevel.Warning, Message = "Network configuration not available yet, retrying every second: {Reason}")]
    private static partial void LogConfigRetry(ILogger logger, string reason);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "br_netfilter is not loaded (/proc/sys/net/bridge/bridge-nf-call-iptables is missing): bridged pod traffic bypasses iptables and Services may not work; run `modprobe br_netfilter`")]
    private static partial void LogNoBrNetfilter(ILogger logger);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Information, Message = "Exiting cleanly; the data path stays in place")]
    private static partial void LogExiting(ILogger logger);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Information, Message = "Cleaned up: backend {Backend} data path, rules, subnet file and lease removed")]
    private static partial void LogCleanedUp(ILogger logger, string backend);

    [LoggerMessage(EventId = 7105, Level = LogLevel.Debug, Message = "Start-up done: heap compacted, GC memory committed {Before} → {After} bytes")]
    internal static partial void LogTrimmed(ILogger logger, long before, long after);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Warning, Message = "The network configuration names no Backend: using vxlan (Go flanneld would use udp); set Backend.Type to \"vxlan\" in net-conf.json to make it explicit")]
    private static partial void LogBackendDefaulted(ILogger logger);

    /// <summary>
    /// Logs as single lines on stderr (flanneld logs only to stderr): time, level, category, event id, message, and
    /// for an exception its messages (inner ones too) — the stack trace only at -v 1 and above, so an operator error
    /// never shows one.
    /// </summary>
    private sealed class StderrLoggerProvider(bool stackTraces) : ILoggerProvider
    {
        private static readonly Lock Gate = new();

        public ILogger CreateLogger(string categoryName) => new StderrLogger(categoryName, stackTraces);

        public void Dispose()
        {
        }

        private sealed class StderrLogger(string category, bool stackTraces) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var sb = new System.Text.StringBuilder(160);
                sb.Append(DateTime.UtcNow.ToString("HH:mm:ss.fff ", System.Globalization.CultureInfo.InvariantCulture))
                    .Append(logLevel switch
                    {
                        LogLevel.Trace => "trce",
                        LogLevel.Debug => "dbug",
                        LogLevel.Information => "info",
                        LogLevel.Warning => "warn",
                        LogLevel.Error => "fail",
                        _ => "crit",
                    })
                    .Append(": ").Append(category).Append('[').Append(eventId.Id).Append("] ")
                    .Append(formatter(state, exception).ReplaceLineEndings(" "));
                if (exception is not null)
                {
                    if (stackTraces)
                    {
                        sb.Append(' ').Append(exception.ToString().ReplaceLineEndings(" | "));
                    }
                    else
                    {
                        var message = formatter(state, exception);
                        for (var e = exception; e is not null; e = e.InnerException)
                        {
                            if (!message.Contains(e.Message, StringComparison.Ordinal))
                            {
                                sb.Append(" (").Append(e is FlannelException ? string.Empty : e.GetType().Name + ": ").Append(e.Message.ReplaceLineEndings(" ")).Append(')');
                            }
                        }
                    }
                }

                sb.Append('\n');
                lock (Gate)
                {
                    Console.Error.Write(sb.ToString());
                }
            }
        }
    }

    private sealed record Store(ILeaseRegistry Registry, LeaseManager Manager) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            switch (Registry)
            {
                case IAsyncDisposable a:
                    await a.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable d:
                    d.Dispose();
                    break;
            }
        }
    }
}
