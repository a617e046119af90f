namespace Flannel.Netlink;

/// <summary>An attribute this library does not decode, preserved as it came from the kernel.</summary>
/// <param name="Type">The attribute type (nested/byte-order flag bits removed).</param>
/// <param name="Value">The attribute payload, copied.</param>
/// <example><code>foreach (var a in link.UnknownAttributes) Console.WriteLine($"{a.Type}: {a.Value.Length} bytes");</code></example>
#pragma warning disable CA1711 // the kernel calls it an attribute
public sealed record RawAttribute(ushort Type, byte[] Value);
#pragma warning restore CA1711
