using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>A device to create. Nullable properties are "unset": nothing is sent for them and the kernel default applies.</summary>
/// <example><code>await rtnl.Links.CreateAsync(new BridgeLinkSpec("br0") { Mtu = 1400, Up = true }, ct);</code></example>
public abstract record LinkSpec
{
    /// <summary>Creates the spec.</summary>
    /// <param name="name">The device name (1 to 15 bytes).</param>
    protected LinkSpec(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > 15)
        {
            throw new ArgumentException($"interface name '{name}' is longer than 15 bytes", nameof(name));
        }

        Name = name;
    }

    /// <summary>The device name.</summary>
    public string Name { get; init; }

    /// <summary>The device kind (IFLA_INFO_KIND).</summary>
    public abstract string Kind { get; }

    /// <summary>The MTU, or null for the kernel default.</summary>
    public int? Mtu { get; init; }

    /// <summary>The link-layer address, or null for a random one.</summary>
    public PhysicalAddress? MacAddress { get; init; }

    /// <summary>True to create the device administratively up.</summary>
    public bool Up { get; init; }
}
