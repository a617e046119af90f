using System.Net;
using System.Text.Json;

namespace Flannel;

/// <summary>
/// What a node publishes with its lease: flannel's <c>LeaseAttrs</c>, stored as the etcd value
/// <c>{"PublicIP":…,"PublicIPv6":…,"BackendType":…,"BackendData":…,"BackendV6Data":…}</c>.
/// </summary>
public sealed partial record LeaseAttributes
{
    /// <summary>The node's IPv4 tunnel endpoint (the lease identity used for reuse).</summary>
    public IPAddress? PublicIP { get; init; }

    /// <summary>The node's IPv6 tunnel endpoint, when it has one.</summary>
    public IPAddress? PublicIPv6 { get; init; }

    /// <summary>The backend type that wrote the lease; flannel leaves it empty for udp, alloc and the cloud backends.</summary>
    public string? BackendType { get; init; }

    /// <summary>Backend-owned JSON for the IPv4 side (vxlan: <c>{"VNI":1,"VtepMAC":"…"}</c>).</summary>
    public JsonElement? BackendData { get; init; }

    /// <summary>Backend-owned JSON for the IPv6 side.</summary>
    public JsonElement? BackendV6Data { get; init; }
}
