namespace Flannel;

/// <summary>Creates backends of one type; registered per host (for example with <c>AddVxlanBackend()</c>).</summary>
public interface IBackendFactory
{
    /// <summary>The type key this factory serves, as written in net-conf.json.</summary>
    BackendType Type { get; }

    /// <summary>Creates a backend for one node and network.</summary>
    /// <param name="context">The node's subnet manager, interface, options and services.</param>
    /// <returns>The backend.</returns>
    IBackend Create(BackendContext context);
}
