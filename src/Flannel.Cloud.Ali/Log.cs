using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Ali;

internal static partial class Log
{
    [LoggerMessage(EventId = 6600, Level = LogLevel.Information, Message = "ali-vpc: instance {InstanceId} in region {RegionId}, VPC {VpcId}, route table {RouteTableId}")]
    public static partial void Discovered(ILogger logger, string instanceId, string regionId, string vpcId, string routeTableId);

    [LoggerMessage(EventId = 6601, Level = LogLevel.Information, Message = "ali-vpc: route entry {Destination} -> {NextHop} is in place and Available")]
    public static partial void RouteInPlace(ILogger logger, string destination, string nextHop);

    [LoggerMessage(EventId = 6602, Level = LogLevel.Information, Message = "ali-vpc: creating route entry {Destination} -> {NextHop} in {RouteTableId}")]
    public static partial void CreatingRoute(ILogger logger, string destination, string nextHop, string routeTableId);

    [LoggerMessage(EventId = 6603, Level = LogLevel.Warning, Message = "ali-vpc: route entry {Destination} in {RouteTableId} points at {OtherNextHop}, not this node; deleting it")]
    public static partial void ReplacingConflict(ILogger logger, string destination, string routeTableId, string otherNextHop);

    [LoggerMessage(EventId = 6604, Level = LogLevel.Information, Message = "ali-vpc: deleting stale route entry {Destination} -> {NextHop} (one flannel subnet per instance)")]
    public static partial void DeletingStale(ILogger logger, string destination, string nextHop);

    [LoggerMessage(EventId = 6605, Level = LogLevel.Warning, Message = "ali-vpc: {Action} answered {Code}; retrying in {Delay} (attempt {Attempt})")]
    public static partial void Retrying(ILogger logger, string action, string code, TimeSpan delay, int attempt);

    [LoggerMessage(EventId = 6606, Level = LogLevel.Debug, Message = "ali-vpc: metadata token endpoint answered HTTP {Status}; using normal mode")]
    public static partial void MetadataNormalMode(ILogger logger, int status);

    [LoggerMessage(EventId = 6607, Level = LogLevel.Warning, Message = "ali-vpc: metadata read {Key} failed ({Reason}); attempt {Attempt} of {Attempts}")]
    public static partial void MetadataRetry(ILogger logger, string key, string reason, int attempt, int attempts);

    [LoggerMessage(EventId = 6608, Level = LogLevel.Error, Message = "ali-vpc: signature rejected; our string to sign was {ClientStringToSign}; the server's message: {ServerMessage}")]
    public static partial void SignatureMismatch(ILogger logger, string clientStringToSign, string? serverMessage);

    [LoggerMessage(EventId = 6609, Level = LogLevel.Information, Message = "ali-vpc: credentials from {Source}, AccessKeyId {AccessKeyIdHint}")]
    public static partial void CredentialsSource(ILogger logger, string source, string accessKeyIdHint);

    [LoggerMessage(EventId = 6610, Level = LogLevel.Information, Message = "ali-vpc: deleted route entry {Destination} -> {NextHop} from {RouteTableId}")]
    public static partial void DeletedRoute(ILogger logger, string destination, string nextHop, string routeTableId);
}
