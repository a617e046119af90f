using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Codecs;

namespace Flannel.Netlink;

/// <summary>Address operations (<c>ip addr</c>), reached through <see cref="RtnetlinkClient.Addresses"/>.</summary>
/// <example><code>await rtnl.Addresses.ReplaceAsync(new AddressSpec(tun.Index, IPAddress.Parse("10.244.1.0"), 16), ct);</code></example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkAddresses
{
    private readonly RtnetlinkClient _client;

    internal RtnetlinkAddresses(RtnetlinkClient client) => _client = client;

    /// <summary>Lists addresses, filtered by the kernel.</summary>
    /// <param name="interfaceIndex">Only this interface's addresses, or null for all.</param>
    /// <param name="family">Only this family, or null for both.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The addresses.</returns>
    public async ValueTask<IReadOnlyList<InterfaceAddress>> ListAsync(int? interfaceIndex = null, AddressFamily? family = null, CancellationToken cancellationToken = default)
    {
        var list = await _client.DumpAsync<(int?, AddressFamily?), InterfaceAddress>(Nl.RTM_GETADDR, (interfaceIndex, family), AddressCodec.EncodeDump, AddressCodec.TryDecode, cancellationToken).ConfigureAwait(false);
        if (interfaceIndex is { } ix)
        {
            list.RemoveAll(a => a.InterfaceIndex != ix);
        }

        return list;
    }

    /// <summary>Adds the address, or updates it when present (NLM_F_REPLACE).</summary>
    /// <param name="spec">The address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public async ValueTask ReplaceAsync(AddressSpec spec, CancellationToken cancellationToken = default)
    {
        Validate(spec);
        await _client.RequestAckAsync(Nl.RTM_NEWADDR, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, AddressCodec.Encode, false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the address; fails with <see cref="Errno.EEXIST"/> when present.</summary>
    /// <param name="spec">The address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public async ValueTask AddAsync(AddressSpec spec, CancellationToken cancellationToken = default)
    {
        Validate(spec);
        await _client.RequestAckAsync(Nl.RTM_NEWADDR, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, AddressCodec.Encode, false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the address.</summary>
    /// <param name="spec">The address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when it was removed, false when it was not there.</returns>
    public ValueTask<bool> DeleteAsync(AddressSpec spec, CancellationToken cancellationToken = default)
    {
        Validate(spec);
        return _client.RequestAckAsync(Nl.RTM_DELADDR, 0, spec, AddressCodec.Encode, true, cancellationToken);
    }

    private static void Validate(AddressSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(spec.Address);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spec.InterfaceIndex);
        var max = spec.Address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        if (spec.PrefixLength < 0 || spec.PrefixLength > max)
        {
            throw new ArgumentOutOfRangeException(nameof(spec), spec.PrefixLength, $"prefix length must be 0..{max} for {spec.Address}");
        }
    }
}
