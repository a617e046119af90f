using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Gce;

internal static partial class Log
{
    [LoggerMessage(EventId = 6300, Level = LogLevel.Information, Message = "gce: instance {Instance} in project {Project}, zone {Zone}, network {Network}")]
    public static partial void Discovered(ILogger logger, string instance, string project, string zone, string network);

    [LoggerMessage(EventId = 6301, Level = LogLevel.Information, Message = "gce: route {RouteName} ({Destination} -> {NextHop}) is already in place")]
    public static partial void RouteInPlace(ILogger logger, string routeName, string destination, string nextHop);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Information, Message = "gce: inserting route {RouteName} ({Destination} -> {NextHop})")]
    public static partial void InsertingRoute(ILogger logger, string routeName, string destination, string nextHop);

    [LoggerMessage(EventId = 6303, Level = LogLevel.Warning, Message = "gce: route {RouteName} points at {OldNextHop}, not this node; deleting and re-inserting it")]
    public static partial void ReplacingRoute(ILogger logger, string routeName, string? oldNextHop);

    [LoggerMessage(EventId = 6304, Level = LogLevel.Information, Message = "gce: waiting for operation {Operation} ({Status}, poll {Poll} of {MaxPolls})")]
    public static partial void WaitingForOperation(ILogger logger, string operation, string? status, int poll, int maxPolls);

    [LoggerMessage(EventId = 6305, Level = LogLevel.Warning, Message = "gce: {Call} answered HTTP {Status} ({Reason}); retrying in {Delay} (attempt {Attempt})")]
    public static partial void Retrying(ILogger logger, string call, int status, string reason, TimeSpan delay, int attempt);

    [LoggerMessage(EventId = 6306, Level = LogLevel.Warning, Message = "gce: instance {Instance} was created without IP forwarding (canIpForward=false); the VPC will drop pod traffic until it is recreated with --can-ip-forward")]
    public static partial void NoIpForwarding(ILogger logger, string instance);

    [LoggerMessage(EventId = 6307, Level = LogLevel.Information, Message = "gce: deleted route {RouteName}")]
    public static partial void DeletedRoute(ILogger logger, string routeName);
}
