using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.Vxlan;

/// <summary>Source-generated log messages of the vxlan backend (EventIds 3000-3499).</summary>
internal static partial class Log
{
    [LoggerMessage(3000, LogLevel.Information, "vxlan network {Instance}: lease {Lease} acquired; device MTU {Mtu}")]
    public static partial void Registered(ILogger logger, string instance, LeaseSubnets lease, int mtu);

    [LoggerMessage(3001, LogLevel.Warning, "ignoring the Windows-only vxlan option {Option}")]
    public static partial void IgnoredOption(ILogger logger, string option);

    [LoggerMessage(3002, LogLevel.Information, "device {Device} created (VNI {Vni}, MAC {Mac}, MTU {Mtu})")]
    public static partial void DeviceCreated(ILogger logger, string device, uint vni, string mac, int mtu);

    [LoggerMessage(3003, LogLevel.Information, "device {Device} reused")]
    public static partial void DeviceReused(ILogger logger, string device);

    [LoggerMessage(3004, LogLevel.Warning, "device {Device} exists but is incompatible ({Reason}); recreating it")]
    public static partial void DeviceIncompatible(ILogger logger, string device, string reason);

    [LoggerMessage(3005, LogLevel.Warning, "VTEP state file problem ({Problem}); the MAC may change across restarts")]
    public static partial void StateProblem(ILogger logger, string problem);

    [LoggerMessage(3006, LogLevel.Warning, "ignoring lease {Subnet}: {Reason}")]
    public static partial void SkippedLease(ILogger logger, IPNetwork? subnet, string reason);

    [LoggerMessage(3007, LogLevel.Warning, "programming peer {Subnet} failed at {Step}: {Error}; rolled back, the next reconcile retries")]
    public static partial void PeerFailed(ILogger logger, IPNetwork subnet, string step, string error);

    [LoggerMessage(3008, LogLevel.Information, "reconcile {Device}: {Desired} peers, {Programmed} (re)programmed, {Neighbors} neighbour, {Fdb} FDB and {Routes} route orphans removed")]
    public static partial void Reconciled(ILogger logger, string device, int desired, int programmed, int neighbors, int fdb, int routes);

    [LoggerMessage(3009, LogLevel.Warning, "reconcile failed; retrying")]
    public static partial void ReconcileFailed(ILogger logger, Exception exception);

    [LoggerMessage(3010, LogLevel.Warning, "device {Device} was deleted; recreating it and re-programming every peer")]
    public static partial void DeviceDeleted(ILogger logger, string device);

    [LoggerMessage(3011, LogLevel.Warning, "device {Device} MAC changed to {Actual} (expected {Expected}); setting it back")]
    public static partial void MacDrift(ILogger logger, string device, string actual, string expected);

    [LoggerMessage(3012, LogLevel.Information, "kernel state changed under us ({What}); reconciling")]
    public static partial void KernelChanged(ILogger logger, string what);

    [LoggerMessage(3016, LogLevel.Debug, "{What}: reconciling to cover the time before it was in place")]
    public static partial void KernelCheck(ILogger logger, string what);

    [LoggerMessage(3017, LogLevel.Debug, "reconcile {Device}: the kernel holds exactly the {Desired} programmed peers")]
    public static partial void KernelMatches(ILogger logger, string device, int desired);

    [LoggerMessage(3018, LogLevel.Debug, "reconcile {Device}: the kernel differs from the programmed peers ({Mismatch}); running the full diff")]
    public static partial void KernelDiffers(ILogger logger, string device, string? mismatch);

    [LoggerMessage(3013, LogLevel.Debug, "setting accept_ra=0 on {Device} failed: {Error}")]
    public static partial void AcceptRaFailed(ILogger logger, string device, string error);

    [LoggerMessage(3014, LogLevel.Warning, "kernel watch failed; restarting it")]
    public static partial void WatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(3015, LogLevel.Information, "re-publishing the lease with VTEP MAC {Mac}")]
    public static partial void Republished(ILogger logger, string mac);
}

/// <summary>A lease's subnets as log text ("10.5.1.0/24", "fc00::/64" or both joined by " + "), formatted only when written.</summary>
internal readonly record struct LeaseSubnets(IPNetwork? Subnet, IPNetwork? IPv6Subnet)
{
    public override string ToString() => (Subnet, IPv6Subnet) switch
    {
        ({ } v4, { } v6) => $"{v4} + {v6}",
        ({ } v4, null) => v4.ToString(),
        (null, { } v6) => v6.ToString(),
        _ => "(no subnet)",
    };
}
