using Microsoft.Extensions.Logging;

namespace Flannel;

/// <summary>Options of a <see cref="LeaseManager"/>.</summary>
public sealed record LeaseManagerOptions
{
    /// <summary>How long a lease lives without renewal (flannel: 24 h). Reservations never get a TTL.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// The network configuration, when the host supplies it in code (or from a net-conf.json file); the store's
    /// configuration is then neither read nor needed. Null: read it from the store.
    /// </summary>
    public NetworkConfig? NetworkConfig { get; init; }

    /// <summary>The clock (logging of expirations; the registry computes them).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Seed of the random pick among free subnets, for reproducible tests; null for a random seed.</summary>
    public int? RandomSeed { get; init; }

    /// <summary>How many times a lost creation race is retried before giving up (flannel: 10).</summary>
    public int MaxAttempts { get; init; } = 10;

    /// <summary>
    /// The meter factory for the <c>Flannel.Core</c> meter (<c>flannel.lease.acquisitions</c>, <c>flannel.lease.races</c>,
    /// <c>flannel.lease.renewals</c>, <c>flannel.lease.releases</c>), or null for no metrics.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>The logger factory, or null for no logging.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}
