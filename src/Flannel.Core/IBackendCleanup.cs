namespace Flannel;

/// <summary>
/// Optional capability of an <see cref="IBackendFactory"/>: removes what a network of this backend type left on the
/// node (devices, routes, entries) without running it — used when a node switches to another backend, so that the
/// old data path cannot keep carrying traffic (for example an old vxlan device whose more specific routes would
/// bypass the new backend).
/// </summary>
public interface IBackendCleanup
{
    /// <summary>Removes this backend's leftovers in the context's network namespace.</summary>
    /// <param name="context">The node's context (namespace, interface, logging).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the leftovers are gone.</returns>
    ValueTask CleanupAsync(BackendContext context, CancellationToken cancellationToken);
}
