using Flannel.Internal;

namespace Flannel;

/// <summary>
/// The <c>alloc</c> backend: acquires a lease (publishing only the public IP, with no backend type, as flanneld does)
/// and programs nothing; someone else (a cloud route controller, a CNI) routes the subnets. MTU = interface MTU.
/// </summary>
public sealed class AllocBackendFactory : IBackendFactory
{
    /// <inheritdoc />
    public BackendType Type => BackendType.Alloc;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new AllocBackend(context);
    }
}
