using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.HostGw;

/// <summary>Source-generated log messages of the host-gw backend (EventIds 3500-3999).</summary>
internal static partial class Log
{
    [LoggerMessage(3500, LogLevel.Information, "host-gw network {Instance}: lease {Subnets} acquired, public IP {PublicIP} on {Interface}")]
    public static partial void Registered(ILogger logger, string instance, string subnets, IPAddress? publicIP, string @interface);

    [LoggerMessage(3501, LogLevel.Warning, "ignoring lease {Subnet}: backend type is \"{BackendType}\", not host-gw")]
    public static partial void ForeignLease(ILogger logger, IPNetwork? subnet, string? backendType);

    [LoggerMessage(3502, LogLevel.Information, "route {Destination} via {Gateway} dev {Device} installed")]
    public static partial void RouteInstalled(ILogger logger, IPNetwork destination, IPAddress? gateway, string? device);

    [LoggerMessage(3503, LogLevel.Information, "route {Destination} removed ({Reason})")]
    public static partial void RouteRemoved(ILogger logger, IPNetwork destination, string reason);

    [LoggerMessage(3504, LogLevel.Warning, "programming route {Destination} via {Gateway} failed; the next reconcile retries")]
    public static partial void RouteFailed(ILogger logger, Exception exception, IPNetwork destination, IPAddress? gateway);

    [LoggerMessage(3505, LogLevel.Warning, "full reconcile failed; retrying in {Interval}")]
    public static partial void ReconcileFailed(ILogger logger, Exception exception, TimeSpan interval);

    [LoggerMessage(3506, LogLevel.Debug, "reconcile: {Desired} desired routes, {Installed} installed, {Removed} orphans removed")]
    public static partial void Reconciled(ILogger logger, int desired, int installed, int removed);

    [LoggerMessage(3507, LogLevel.Warning, "ignoring lease {Subnet}: it has no public IP for the {Family} route")]
    public static partial void NoPublicIP(ILogger logger, IPNetwork? subnet, string family);

    [LoggerMessage(3508, LogLevel.Information, "kernel routing state changed under us ({What}); reconciling")]
    public static partial void KernelChanged(ILogger logger, string what);
}
