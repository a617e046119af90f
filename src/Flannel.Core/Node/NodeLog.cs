using Microsoft.Extensions.Logging;

namespace Flannel.Node;

internal static partial class NodeLog
{
    [LoggerMessage(EventId = 7000, Level = LogLevel.Information, Message = "Starting flannel node {Instance}")]
    public static partial void Starting(ILogger logger, string instance);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Network configuration not available yet, retrying every {Interval}: {Reason}")]
    public static partial void ConfigNotReady(ILogger logger, TimeSpan interval, string reason);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Using interface {Interface} (index {Index}, MTU {Mtu}), address {Address}, public IP {PublicIP}")]
    public static partial void InterfaceSelected(ILogger logger, string @interface, int index, int mtu, System.Net.IPAddress? address, System.Net.IPAddress? publicIP);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Information, Message = "Acquired lease {Lease} with backend {Backend}, MTU {Mtu}")]
    public static partial void LeaseAcquired(ILogger logger, Internal.SubnetsText lease, BackendType backend, int mtu);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information, Message = "Node ready")]
    public static partial void Ready(ILogger logger);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Information, Message = "Lease renewed; expires {Expiration}")]
    public static partial void LeaseRenewed(ILogger logger, Internal.ExpiryText expiration);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "Lease renewal failed; retrying in {Retry}")]
    public static partial void RenewFailed(ILogger logger, Exception error, TimeSpan retry);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Warning, Message = "Own lease {Subnet} disappeared from the store; trying to take it back")]
    public static partial void LeaseLost(ILogger logger, System.Net.IPNetwork? subnet);

    [LoggerMessage(EventId = 7008, Level = LogLevel.Information, Message = "Own lease {Subnet} taken back")]
    public static partial void LeaseReacquired(ILogger logger, System.Net.IPNetwork? subnet);

    [LoggerMessage(EventId = 7009, Level = LogLevel.Error, Message = "Node failed")]
    public static partial void Faulted(ILogger logger, Exception error);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "Node stopped; the data path stays in place")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Information, Message = "Node torn down")]
    public static partial void TornDown(ILogger logger);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "Teardown step {Step} failed")]
    public static partial void TeardownStepFailed(ILogger logger, Exception error, string step);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Debug, Message = "Peer {Kind}: {Subnet} at {PublicIP}")]
    public static partial void Peer(ILogger logger, LeaseEventKind kind, System.Net.IPNetwork? subnet, System.Net.IPAddress? publicIP);

    [LoggerMessage(EventId = 7014, Level = LogLevel.Warning, Message = "Watching peers failed; retrying")]
    public static partial void PeerWatchFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 7015, Level = LogLevel.Information, Message = "Backend changed: removing what backend {Previous} left on this node")]
    public static partial void CleaningPreviousBackend(ILogger logger, BackendType previous);

    [LoggerMessage(EventId = 7016, Level = LogLevel.Warning, Message = "Data path degraded: {Problem}; the backend keeps retrying")]
    public static partial void DataPathDegraded(ILogger logger, Exception? error, string problem);

    [LoggerMessage(EventId = 7017, Level = LogLevel.Information, Message = "Data path restored: every peer is programmed again (degraded for {Duration})")]
    public static partial void DataPathRestored(ILogger logger, TimeSpan duration);
}
