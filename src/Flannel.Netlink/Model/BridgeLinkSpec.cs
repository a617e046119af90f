namespace Flannel.Netlink;

/// <summary>A Linux bridge.</summary>
/// <example><code>await rtnl.Links.CreateAsync(new BridgeLinkSpec("cni0") { Up = true }, ct);</code></example>
public sealed record BridgeLinkSpec : LinkSpec
{
    /// <summary>Creates the spec.</summary>
    /// <param name="name">The bridge name.</param>
    public BridgeLinkSpec(string name)
        : base(name)
    {
    }

    /// <inheritdoc />
    public override string Kind => "bridge";
}
