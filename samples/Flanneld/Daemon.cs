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
        var config = await GetConfigAsync(s, store.Manager, log, ct).ConfigureAwait(false);
        WarnWithoutBrNetfilter(config, s, log);

        // A defaulted backend (no "Backend" object) is already warned about by LeaseManager (event 1040) when it reads the
        // configuration, for the embedded store and etcd alike; saying it twice adds nothing.
        using var host = BuildHost(s, config, store.Manager, loggerFactory);
        EnsureBackendInThisBuild(config.BackendType, host.Services.GetRequiredService<BackendRegistry>());
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
            Console.Error.WriteLine($"flanneld: {OperatorMessage(error)}");
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
        var config = await GetConfigAsync(s, store.Manager, log, ct).ConfigureAwait(false);

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
            EtcdLeaseRegistry etcd;
            try
            {
                etcd = OpenEtcd(s, loggerFactory);
            }
            catch (FlannelConfigurationException ex) when (ex.Field is "CertFile" or "KeyFile" or "CaFile" or "Endpoints" or "Username" or "Password")
            {
                // The option names of EtcdLeaseRegistryOptions, as the flags an operator passes.
                var flag = "--etcd-" + ex.Field.ToLowerInvariant();
                throw new FlannelConfigurationException(flag, ex.Value, (ex.Rule ?? ex.Message).Replace("CertFile", "--etcd-certfile", StringComparison.Ordinal).Replace("KeyFile", "--etcd-keyfile", StringComparison.Ordinal), ex);
            }

            return new Store(etcd, new LeaseManager(etcd, new LeaseManagerOptions { LoggerFactory = loggerFactory }));
        }

        return await OpenEmbeddedStoreAsync(s, loggerFactory, ct).ConfigureAwait(false);
    }

    private static EtcdLeaseRegistry OpenEtcd(DaemonSettings s, ILoggerFactory loggerFactory) =>
        new(
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

    private static async Task<Store> OpenEmbeddedStoreAsync(DaemonSettings s, ILoggerFactory loggerFactory, CancellationToken ct)
    {
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

        var unknown = NetConfLint.UnknownFields(text);
        try
        {
            fileConfig = NetworkConfig.Parse(text).Validate();
        }
        catch (FlannelConfigurationException ex)
        {
            var also = unknown.Count > 0 ? $" ({NetConfLint.Describe(unknown)})" : string.Empty;
            throw new FlannelConfigurationException($"{s.NetConfigPath}: {ex.Message}{also}", ex);
        }

        if (unknown.Count > 0)
        {
            LogUnknownFields(loggerFactory.CreateLogger("flanneld"), s.NetConfigPath, NetConfLint.Describe(unknown));
        }

        if (Directory.Exists(s.DatastorePath))
        {
            throw new FlannelConfigurationException("--datastore-path", s.DatastorePath, "it is a directory; give a file path such as /var/lib/flannel/leases.db");
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(s.DatastorePath));
        if (dir is not null)
        {
            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new FlannelConfigurationException("--datastore-path", s.DatastorePath, $"cannot create its directory {dir}: {WhyNotADirectory(dir) ?? ex.Message}", ex);
            }
        }

        var sqlite = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = s.DatastorePath }, loggerFactory.CreateLogger<SqliteLeaseRegistry>());
        return new Store(sqlite, new LeaseManager(sqlite, new LeaseManagerOptions { NetworkConfig = fileConfig, LoggerFactory = loggerFactory }));
    }

    private static async Task<NetworkConfig> GetConfigAsync(DaemonSettings s, LeaseManager manager, ILogger log, CancellationToken ct)
    {
        var attempt = 0;
        var key = s.EtcdPrefix.TrimEnd('/') + "/config";
        while (true)
        {
            try
            {
                return (await manager.GetNetworkConfigAsync(ct).ConfigureAwait(false)).Validate();
            }
            catch (FlannelConfigurationException ex) when (s.UsesEtcd)
            {
                // Say where the bad configuration is: the operator fixes the etcd key, not a file.
                throw new FlannelConfigurationException($"etcd key {key}: {ex.Message}", ex);
            }
            catch (FlannelException ex) when (ex is not FlannelConfigurationException && (ex.IsTransient || ex is NetworkConfigNotFoundException))
            {
                if (attempt++ % 30 == 0)
                {
                    LogConfigRetry(log, ex is NetworkConfigNotFoundException && s.UsesEtcd
                        ? $"etcd has no key {key}; put the network configuration there with the etcd v3 API, for example: etcdctl put {key} '{{\"Network\": \"10.244.0.0/16\", \"Backend\": {{\"Type\": \"vxlan\"}}}}'"
                        : ex.Message);
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

    /// <summary>
    /// An unknown backend type, in operator words (the library's message tells embedders how to register backends).
    /// flannel's backends that Flannel.Net does not have are named as such, so a migrating operator knows it is not a typo.
    /// </summary>
    private static void EnsureBackendInThisBuild(BackendType type, BackendRegistry registry)
    {
        if (registry.TryGetFactory(type, out _))
        {
            return;
        }

        var known = string.Join(", ", registry.Types.Select(t => t.Value));
        var why = type.Value is "ipip" or "ipsec" or "wireguard" or "extension" or "tencent-vpc"
            ? $"flannel's {type.Value} backend is not part of Flannel.Net"
            : "unknown backend type";
        throw new FlannelConfigurationException("Backend.Type", type.Value, $"{why}; this flanneld runs {known}");
    }

    /// <summary>The first of <paramref name="dir"/> and its parents that exists as a file, as a reason; null when none does.</summary>
    private static string? WhyNotADirectory(string dir)
    {
        for (var d = dir; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(d))
            {
                return $"{d} is a file, not a directory";
            }
        }

        return null;
    }

    private static ILoggerFactory CreateLoggerFactory(int verbosity) =>
        LoggerFactory.Create(b => b
            .SetMinimumLevel(verbosity switch { <= 0 => LogLevel.Information, 1 => LogLevel.Debug, _ => LogLevel.Trace })

            // The host's own start/stop failures are reported once, as the daemon's one-line error.
            .AddFilter("Microsoft.Extensions.Hosting", verbosity > 0 ? LogLevel.Debug : LogLevel.None)
            .AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning)
            .AddProvider(new StderrLoggerProvider(stackTraces: verbosity > 0)));

    /// <summary>
    /// The last line of a failed run: a Flannel.Net error's message as is, anything else with its type; when the kernel
    /// refused for lack of privileges (EPERM/EACCES from netlink), what flanneld needs.
    /// </summary>
    public static string OperatorMessage(Exception ex)
    {
        var text = ex is FlannelException ? ex.Message : Describe(ex);
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is Flannel.Netlink.NetlinkException { Error: Flannel.Netlink.Errno.EPERM or Flannel.Netlink.Errno.EACCES } nl)
            {
                return text + (nl.Operation == "setns" ? "; --netns needs root (CAP_SYS_ADMIN)" : "; flanneld needs root, or CAP_NET_ADMIN and CAP_NET_RAW");
            }
        }

        return text;
    }

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

    [LoggerMessage(EventId = 7106, Level = LogLevel.Warning, Message = "{Path}: {Fields} (flanneld ignores unknown fields too)")]
    private static partial void LogUnknownFields(ILogger logger, string path, string fields);

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
                // The node's "Node failed" is what the daemon's last line says; below -v 1 it is said once, there.
                if (!stackTraces && eventId.Id == 7009 && category.StartsWith("Flannel.Node", StringComparison.Ordinal))
                {
                    return;
                }

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
