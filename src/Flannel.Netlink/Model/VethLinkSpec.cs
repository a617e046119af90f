namespace Flannel.Netlink;

/// <summary>A veth pair; the peer may be created directly in another namespace.</summary>
/// <example><code>await rtnl.Links.CreateAsync(new VethLinkSpec("veth0", "eth0") { PeerNamespace = other }, ct);</code></example>
public sealed record VethLinkSpec : LinkSpec
{
    /// <summary>Creates the spec.</summary>
    /// <param name="name">This end's name.</param>
    /// <param name="peerName">The other end's name.</param>
    public VethLinkSpec(string name, string peerName)
        : base(name)
    {
        ArgumentException.ThrowIfNullOrEmpty(peerName);
        PeerName = peerName;
    }

    /// <inheritdoc />
    public override string Kind => "veth";

    /// <summary>The peer's name.</summary>
    public string PeerName { get; init; }

    /// <summary>The namespace to create the peer in, or null for the same namespace.</summary>
    public NetworkNamespace? PeerNamespace { get; init; }
}
