namespace Flannel;

/// <summary>
/// The type key of a backend, as written in net-conf.json <c>Backend.Type</c> (for example <c>vxlan</c>).
/// Values are trimmed and compared lower-case invariant, as flannel does.
/// </summary>
public readonly record struct BackendType
{
    private readonly string? _value;

    /// <summary>Creates a backend type from its text form, normalised to lower case.</summary>
    /// <param name="value">The type name, for example <c>"VXLAN"</c> or <c>"host-gw"</c>.</param>
    public BackendType(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _value = value.Trim().ToLowerInvariant();
    }

    /// <summary>The normalised (lower-case) type name; empty for the default value.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>True when no type was given (flannel's <c>""</c>).</summary>
    public bool IsEmpty => string.IsNullOrEmpty(_value);

    /// <summary>The vxlan backend (<c>vxlan</c>).</summary>
    public static BackendType Vxlan { get; } = new("vxlan");

    /// <summary>The host-gw backend (<c>host-gw</c>).</summary>
    public static BackendType HostGw { get; } = new("host-gw");

    /// <summary>The udp backend (<c>udp</c>).</summary>
    public static BackendType Udp { get; } = new("udp");

    /// <summary>The alloc backend (<c>alloc</c>): acquires a lease, programs nothing.</summary>
    public static BackendType Alloc { get; } = new("alloc");

    /// <summary>The aws-vpc backend (<c>aws-vpc</c>).</summary>
    public static BackendType AwsVpc { get; } = new("aws-vpc");

    /// <summary>The gce backend (<c>gce</c>).</summary>
    public static BackendType Gce { get; } = new("gce");

    /// <summary>The ali-vpc backend (<c>ali-vpc</c>).</summary>
    public static BackendType AliVpc { get; } = new("ali-vpc");

    /// <inheritdoc />
    public override string ToString() => Value;
}
