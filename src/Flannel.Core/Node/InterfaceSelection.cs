using System.Net;

namespace Flannel.Node;

/// <summary>
/// How a node picks its underlay interface (flanneld's <c>--iface</c>, <c>--iface-regex</c>,
/// <c>--iface-can-reach</c>), or an explicit interface. With nothing set, the interface that owns the public IP
/// is used when one is given, else the interface of the default route.
/// </summary>
public sealed record InterfaceSelection
{
    /// <summary>Interface names or IP addresses, tried in order (<c>--iface</c>).</summary>
    public IReadOnlyList<string> Interfaces { get; init; } = [];

    /// <summary>Regular expressions matched against interface addresses, then names (<c>--iface-regex</c>).</summary>
    public IReadOnlyList<string> Regexes { get; init; } = [];

    /// <summary>Pick the interface the kernel would use to reach this address (<c>--iface-can-reach</c>).</summary>
    public IPAddress? CanReach { get; init; }

    /// <summary>Use exactly this interface and addresses; no lookup is done.</summary>
    public ExternalInterface? Explicit { get; init; }

    /// <summary>True when no selection rule is given.</summary>
    public bool IsDefault => Interfaces.Count == 0 && Regexes.Count == 0 && CanReach is null && Explicit is null;
}
