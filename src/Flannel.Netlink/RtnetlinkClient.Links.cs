using System.Net.NetworkInformation;
using System.Runtime.Versioning;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Codecs;

namespace Flannel.Netlink;

/// <summary>Link operations (<c>ip link</c>), reached through <see cref="RtnetlinkClient.Links"/>.</summary>
/// <example>
/// <code>
/// var vtep = await rtnl.Links.EnsureAsync(new VxlanLinkSpec("flannel.1", vni: 1) { Port = 8472, Learning = false }, ct);
/// await rtnl.Links.SetUpAsync(vtep.Index, ct);
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkLinks
{
    private static readonly Errno[] Missing = [Errno.ENODEV, Errno.ENOENT];
    private readonly RtnetlinkClient _client;

    internal RtnetlinkLinks(RtnetlinkClient client) => _client = client;

    /// <summary>Lists every link (RTM_GETLINK dump).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The links.</returns>
    public async ValueTask<IReadOnlyList<Link>> ListAsync(CancellationToken cancellationToken = default) =>
        await _client.DumpAsync<int, Link>(Nl.RTM_GETLINK, 0, static (ref w, _) => w.WriteStruct(default(LinkHeader)), LinkCodec.TryDecode, cancellationToken).ConfigureAwait(false);

    /// <summary>Gets a link by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The link, or null when there is none.</returns>
    public ValueTask<Link?> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _client.GetAsync<string, Link>(Nl.RTM_GETLINK, name, LinkCodec.EncodeGetByName, LinkCodec.TryDecode, Missing, cancellationToken);
    }

    /// <summary>Gets a link by index.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The link, or null when there is none.</returns>
    public ValueTask<Link?> GetByIndexAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(index);
        return _client.GetAsync<int, Link>(Nl.RTM_GETLINK, index, LinkCodec.EncodeIndex, LinkCodec.TryDecode, Missing, cancellationToken);
    }

    /// <summary>Creates a device (fails with <see cref="Errno.EEXIST"/> when the name is taken) and returns it as read back.</summary>
    /// <param name="spec">The device.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new link.</returns>
    public async ValueTask<Link> CreateAsync(LinkSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        await _client.RequestAckAsync(Nl.RTM_NEWLINK, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, LinkCodec.EncodeCreate, false, cancellationToken).ConfigureAwait(false);
        return await GetAsync(spec.Name, cancellationToken).ConfigureAwait(false)
            ?? throw new NetlinkException("RTM_GETLINK", Errno.ENODEV, $"link {spec.Name} vanished right after it was created");
    }

    /// <summary>
    /// Makes sure the device exists as specified: returns the existing link when its kind (and, for vxlan, every set
    /// attribute) matches; otherwise deletes it and creates it anew. MTU, MAC and up are then applied if set.
    /// </summary>
    /// <param name="spec">The device.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The link as read back.</returns>
    public async ValueTask<Link> EnsureAsync(LinkSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var existing = await GetAsync(spec.Name, cancellationToken).ConfigureAwait(false);
        if (existing is not null && !Matches(existing, spec))
        {
            await DeleteAsync(existing.Index, cancellationToken).ConfigureAwait(false);
            existing = null;
        }

        if (existing is null)
        {
            return await CreateAsync(spec, cancellationToken).ConfigureAwait(false);
        }

        if ((spec.Mtu is { } mtu && existing.Mtu != mtu) || (spec.MacAddress is { } mac && !mac.Equals(existing.MacAddress)) || (spec.Up && !existing.IsUp))
        {
            await SetAsync(existing.Index, spec.Up ? true : null, spec.Mtu, spec.MacAddress, cancellationToken).ConfigureAwait(false);
            existing = await GetByIndexAsync(existing.Index, cancellationToken).ConfigureAwait(false) ?? existing;
        }

        return existing;
    }

    private static bool Matches(Link link, LinkSpec spec)
    {
        if (link.Kind != spec.Kind)
        {
            return false;
        }

        if (spec is VxlanLinkSpec v)
        {
            var x = link.Vxlan;
            return x is not null && x.Vni == v.Vni
                && (v.Local is null || v.Local.Equals(x.Local))
                && (v.Device is null || v.Device == x.Device)
                && (v.Port is null || v.Port == x.Port)
                && (v.Learning is null || v.Learning == x.Learning)
                && (v.Ttl is null || v.Ttl == x.Ttl)
                && v.Gbp == x.Gbp;
        }

        return true;
    }

    /// <summary>Sets the link administratively up.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask SetUpAsync(int index, CancellationToken cancellationToken = default) => SetAsync(index, true, null, null, cancellationToken);

    /// <summary>Sets the link administratively down.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask SetDownAsync(int index, CancellationToken cancellationToken = default) => SetAsync(index, false, null, null, cancellationToken);

    /// <summary>Sets the MTU.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="mtu">The MTU.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask SetMtuAsync(int index, int mtu, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mtu);
        return SetAsync(index, null, mtu, null, cancellationToken);
    }

    /// <summary>Sets the link-layer address.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="macAddress">The address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask SetMacAddressAsync(int index, PhysicalAddress macAddress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(macAddress);
        return SetAsync(index, null, null, macAddress, cancellationToken);
    }

    /// <summary>Moves the link into another namespace (IFLA_NET_NS_FD).</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="target">The namespace to move it to.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask MoveToNamespaceAsync(int index, NetworkNamespace target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWLINK, 0, (index, (bool?)null, (int?)null, (PhysicalAddress?)null, (NetworkNamespace?)target, (int?)null), LinkCodec.EncodeSet, false, cancellationToken));
    }

    /// <summary>Makes the link a port of a bridge (IFLA_MASTER), or releases it with 0 (<c>ip link set DEV master BR</c> / <c>nomaster</c>).</summary>
    /// <param name="index">The interface index of the port.</param>
    /// <param name="masterIndex">The interface index of the bridge, or 0 to release the port.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    /// <example><code>await rtnl.Links.SetMasterAsync(veth.Index, bridge.Index, ct);</code></example>
    public ValueTask SetMasterAsync(int index, int masterIndex, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(index);
        ArgumentOutOfRangeException.ThrowIfNegative(masterIndex);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWLINK, 0, (index, (bool?)null, (int?)null, (PhysicalAddress?)null, (NetworkNamespace?)null, (int?)masterIndex), LinkCodec.EncodeSet, false, cancellationToken));
    }

    /// <summary>Changes several settings in one request; null leaves a setting alone.</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="up">True for up, false for down, null to leave.</param>
    /// <param name="mtu">The MTU, or null.</param>
    /// <param name="macAddress">The link-layer address, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask SetAsync(int index, bool? up, int? mtu, PhysicalAddress? macAddress, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(index);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWLINK, 0, (index, up, mtu, macAddress, (NetworkNamespace?)null, (int?)null), LinkCodec.EncodeSet, false, cancellationToken));
    }

    /// <summary>Deletes a link (a veth deletes its peer too).</summary>
    /// <param name="index">The interface index.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when it was deleted, false when there was no such link.</returns>
    public ValueTask<bool> DeleteAsync(int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(index);
        return _client.RequestAckAsync(Nl.RTM_DELLINK, 0, index, LinkCodec.EncodeIndex, true, cancellationToken);
    }

    /// <summary>Deletes a link by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when it was deleted, false when there was no such link.</returns>
    public ValueTask<bool> DeleteByNameAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _client.RequestAckAsync(Nl.RTM_DELLINK, 0, name, LinkCodec.EncodeGetByName, true, cancellationToken);
    }
}
