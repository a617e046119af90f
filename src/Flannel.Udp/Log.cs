using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

/// <summary>Log messages of Flannel.Udp (EventIds 4000–4999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "udp backend: TUN {Device} ({Address}/32, MTU {Mtu}, offloads {Offloads}), socket {Local} (GSO {Gso}, GRO {Gro})")]
    public static partial void DataPathStarted(ILogger logger, string device, System.Net.IPAddress address, int mtu, bool offloads, System.Net.IPEndPoint local, bool gso, bool gro);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "udp backend stopped: {Counters}")]
    public static partial void DataPathStopped(ILogger logger, DataPathCounters counters);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "udp data path: {Operation} failed: {Error}")]
    public static partial void PumpError(ILogger logger, string operation, string error);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "udp data path: the kernel refused UDP GSO ({Error}); sending one datagram per syscall from now on")]
    public static partial void GsoDisabled(ILogger logger, string error);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "udp routes: {Count} peer subnets")]
    public static partial void RoutesUpdated(ILogger logger, int count);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Debug, Message = "udp route {Subnet} via {PublicIP}:{Port} {Kind}")]
    public static partial void RouteChanged(ILogger logger, System.Net.IPNetwork subnet, System.Net.IPAddress publicIP, int port, string kind);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "udp backend: ignoring lease {Subnet}: {Reason}")]
    public static partial void LeaseIgnored(ILogger logger, System.Net.IPNetwork subnet, string reason);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "udp backend: lease {Subnet} acquired for public IP {PublicIP}")]
    public static partial void LeaseAcquired(ILogger logger, System.Net.IPNetwork subnet, System.Net.IPAddress publicIP);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "udp backend option {Option} is not known to the udp backend and is ignored")]
    public static partial void UnknownOption(ILogger logger, string option);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "udp data path: {Problem}; repaired")]
    public static partial void Repaired(ILogger logger, string problem);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "udp data path: {Problem}; retrying")]
    public static partial void RepairFailed(ILogger logger, Exception error, string problem);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "udp data path: {Problem}")]
    public static partial void Problem(ILogger logger, string problem);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Information, Message = "udp data path rebuilt: TUN {Device} (index {Index}) and socket {Local} opened again")]
    public static partial void Rebuilt(ILogger logger, string device, int index, System.Net.IPEndPoint local);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Warning, Message = "udp backend: watching the kernel for changes to the TUN device failed; retrying")]
    public static partial void WatchFailed(ILogger logger, Exception error);
}
