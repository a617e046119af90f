using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Aws;

internal static partial class Log
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "aws-vpc: instance {InstanceId} in {Region}, ENI {EniId} (subnet {SubnetId}, VPC {VpcId}) holds {Address}")]
    public static partial void Discovered(ILogger logger, string instanceId, string region, string eniId, string? subnetId, string? vpcId, System.Net.IPAddress address);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "aws-vpc: route {Destination} -> {Target} in {RouteTableId} is already correct")]
    public static partial void RouteCorrect(ILogger logger, string destination, string target, string routeTableId);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "aws-vpc: creating route {Destination} -> {Target} in {RouteTableId}")]
    public static partial void CreatingRoute(ILogger logger, string destination, string target, string routeTableId);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "aws-vpc: route {Destination} in {RouteTableId} points at {OldTarget} ({State}); replacing it with {Target}")]
    public static partial void ReplacingRoute(ILogger logger, string destination, string routeTableId, string oldTarget, string state, string target);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "aws-vpc: deleting blackhole route {Destination} from {RouteTableId}")]
    public static partial void DeletingBlackhole(ILogger logger, string destination, string routeTableId);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Warning, Message = "aws-vpc: could not disable the source/destination check on {EniId}; pod traffic may be dropped: {Reason}")]
    public static partial void SourceDestCheckFailed(ILogger logger, string eniId, string reason);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "aws-vpc: EC2 {Action} throttled ({Code}); retrying in {Delay} (attempt {Attempt})")]
    public static partial void Throttled(ILogger logger, string action, string code, TimeSpan delay, int attempt);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Information, Message = "aws-vpc: using route table {RouteTableId} ({Reason})")]
    public static partial void UsingTable(ILogger logger, string routeTableId, string reason);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Information, Message = "aws-vpc: disabled the source/destination check on {EniId}")]
    public static partial void SourceDestCheckDisabled(ILogger logger, string eniId);
}
