using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.Internal;

/// <summary>Core's log messages; event ids 1000-1999.</summary>
internal static partial class CoreLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Reusing lease {Lease} held by public IP {PublicIP}{Kind}")]
    public static partial void LeaseReused(ILogger logger, SubnetsText lease, IPAddress? publicIP, string kind);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Lease {Lease} of public IP {PublicIP} does not fit the network configuration any more; deleting it and allocating a new one")]
    public static partial void IncompatibleLeaseDeleted(ILogger logger, SubnetsText lease, IPAddress? publicIP);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Found previously leased subnet {Subnet}, reusing it")]
    public static partial void PreviousSubnetReused(ILogger logger, IPNetwork subnet);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Previously leased subnet {Subnet} does not fit the network configuration, ignoring it")]
    public static partial void PreviousSubnetIncompatible(ILogger logger, IPNetwork subnet);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Previously leased subnet {Subnet} is now used by another node, ignoring it")]
    public static partial void PreviousSubnetTaken(ILogger logger, IPNetwork subnet);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Allocated lease {Lease} to public IP {PublicIP}, expires {Expiration}")]
    public static partial void LeaseAllocated(ILogger logger, SubnetsText lease, IPAddress? publicIP, ExpiryText expiration);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Another node created subnet {Subnet} first (attempt {Attempt} of {MaxAttempts}); picking again")]
    public static partial void LostRace(ILogger logger, IPNetwork? subnet, int attempt, int maxAttempts);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Debug, Message = "Renewed lease {Lease}, expires {Expiration}")]
    public static partial void LeaseRenewed(ILogger logger, SubnetsText lease, ExpiryText expiration);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "Released lease {Lease} (found: {Found})")]
    public static partial void LeaseReleased(ILogger logger, SubnetsText lease, bool found);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Debug, Message = "Lease watch resynchronised from a snapshot of {Count} leases at revision {Revision}")]
    public static partial void WatchResync(ILogger logger, int count, long revision);

    [LoggerMessage(EventId = 1040, Level = LogLevel.Warning, Message = "The configuration has no Backend; using {Type}. Go flanneld would use udp here: set \"Backend\": {{\"Type\": \"{Type}\"}} explicitly")]
    public static partial void BackendDefaulted(ILogger logger, string type);

    [LoggerMessage(EventId = 1080, Level = LogLevel.Debug, Message = "In-memory lease {Key} expired")]
    public static partial void InMemoryLeaseExpired(ILogger logger, SubnetKey key);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "The route for subnet {Subnet} could not be programmed in {Table}; retrying")]
    public static partial void RouteReconcileFailed(ILogger logger, Exception error, IPNetwork subnet, string table);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Debug, Message = "The route for subnet {Subnet} is in place in {Count} route table(s)")]
    public static partial void RouteReconciled(ILogger logger, IPNetwork subnet, int count);
}
