using Grpc.Core;

namespace Flannel.Etcd;

/// <summary>An etcd request failed; transient for outages and timeouts, so callers retry.</summary>
internal sealed class EtcdStoreException : FlannelException
{
    private readonly bool _transient;

    public EtcdStoreException(string message, RpcException inner)
        : base(message, inner)
    {
        _transient = inner.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted
            or StatusCode.ResourceExhausted or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled;
    }

    public override bool IsTransient => _transient;
}
