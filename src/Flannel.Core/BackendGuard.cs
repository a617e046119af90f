using System.Net;

namespace Flannel;

/// <summary>
/// Enforces "the backend is fixed once set" (flannel's running.md): a running network never switches backend,
/// and a node that ran another backend does not start without an explicit migration.
/// </summary>
public static class BackendGuard
{
    private const string Migration = "to migrate, stop the node, run `flanneld cleanup` (removes the old backend's devices, routes and subnet.env) and start it again, or allow the change (flanneld --allow-backend-change; FlannelNodeOptions.AllowBackendChange)";

    /// <summary>Rejects a new configuration whose backend type differs from the running one.</summary>
    /// <param name="running">The backend type the network runs.</param>
    /// <param name="newConfig">The configuration read again (for example after an etcd config change).</param>
    /// <exception cref="FlannelConfigurationException">The type differs; the running backend should keep running.</exception>
    public static void EnsureUnchanged(BackendType running, NetworkConfig newConfig)
    {
        ArgumentNullException.ThrowIfNull(newConfig);
        if (newConfig.BackendType != running)
        {
            throw new FlannelConfigurationException(
                "Backend.Type",
                newConfig.BackendType.Value,
                $"the network is running backend \"{running}\" and a backend cannot change while it runs; the \"{running}\" backend keeps running ({Migration})");
        }
    }

    /// <summary>
    /// Refuses to start a node whose previous lease or subnet.env records another backend type, unless
    /// <paramref name="allowBackendChange"/> is set. Only recorded types are compared: flannel's udp, alloc and cloud
    /// backends write no type into the lease, and flannel's subnet.env has none (Flannel.Net writes
    /// <c>FLANNEL_BACKEND_TYPE</c> when asked).
    /// </summary>
    /// <param name="configured">The backend type the node is configured for.</param>
    /// <param name="previousLease">The node's lease from before the restart, if any.</param>
    /// <param name="previousEnvironment">The node's subnet.env from before the restart, if any.</param>
    /// <param name="allowBackendChange">True to allow the change (an explicit migration).</param>
    /// <exception cref="FlannelConfigurationException">A different backend type is recorded.</exception>
    public static void EnsureNodeCanStart(BackendType configured, Lease? previousLease, SubnetEnvironment? previousEnvironment, bool allowBackendChange)
    {
        if (allowBackendChange)
        {
            return;
        }

        if (previousLease?.Attributes.BackendType is { Length: > 0 } leaseType && new BackendType(leaseType) != configured)
        {
            throw Refuse(configured, new BackendType(leaseType), $"its lease {previousLease.Subnet}");
        }

        if (previousEnvironment is { BackendType.IsEmpty: false } env && env.BackendType != configured)
        {
            throw Refuse(configured, env.BackendType, "its subnet.env");
        }
    }

    /// <summary>
    /// Looks up the node's current lease by public IP and checks it with
    /// <see cref="EnsureNodeCanStart(BackendType, Lease?, SubnetEnvironment?, bool)"/>. Call before acquiring the lease
    /// (acquisition overwrites the recorded type).
    /// </summary>
    /// <param name="manager">The subnet manager.</param>
    /// <param name="publicIP">The node's public IP (its lease identity).</param>
    /// <param name="configured">The configured backend type.</param>
    /// <param name="previousEnvironment">The node's previous subnet.env, if any.</param>
    /// <param name="allowBackendChange">True to allow the change.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>A task that faults with <see cref="FlannelConfigurationException"/> when the node must not start.</returns>
    public static async ValueTask EnsureNodeCanStartAsync(
        ISubnetManager manager, IPAddress? publicIP, BackendType configured, SubnetEnvironment? previousEnvironment, bool allowBackendChange, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manager);
        Lease? previous = null;
        if (publicIP is not null && !allowBackendChange)
        {
            var snapshot = await manager.ListLeasesAsync(cancellationToken).ConfigureAwait(false);
            previous = snapshot.Leases.FirstOrDefault(l => publicIP.Equals(l.Attributes.PublicIP));
        }

        EnsureNodeCanStart(configured, previous, previousEnvironment, allowBackendChange);
    }

    private static FlannelConfigurationException Refuse(BackendType configured, BackendType recorded, string where) =>
        new(
            "Backend.Type",
            configured.Value,
            $"this node ran backend \"{recorded}\" ({where} says so) and the backend type is fixed once set; {Migration}");
}
