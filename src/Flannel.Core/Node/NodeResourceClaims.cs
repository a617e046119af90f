namespace Flannel.Node;

/// <summary>
/// The host resources (devices, VNIs, UDP ports, files) that running nodes of one process hold. Nodes that share
/// one instance (the DI container registers a single one) reject a second network that would use the same
/// resource — the same VNI or device in the same namespace, the same port, the same subnet file — before the
/// kernel is touched. Not a static: two independent hosts in one process keep independent claims.
/// </summary>
public sealed class NodeResourceClaims
{
    private readonly Dictionary<string, string> _owners = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Claims every resource for <paramref name="owner"/>, or none of them.</summary>
    /// <param name="owner">Who claims (a node's instance name).</param>
    /// <param name="resources">Resource keys, for example <c>netns:/run/netns/a link:flannel.1</c>.</param>
    /// <returns>A handle that releases the claims when disposed.</returns>
    /// <exception cref="FlannelConfigurationException">A resource is already held by another owner.</exception>
    public IDisposable Claim(string owner, IEnumerable<string> resources)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(resources);
        var keys = resources.Distinct(StringComparer.Ordinal).ToArray();
        lock (_gate)
        {
            foreach (var key in keys)
            {
                if (_owners.TryGetValue(key, out var holder))
                {
                    throw new FlannelConfigurationException(
                        "resource",
                        key,
                        $"already used by node \"{holder}\" in this process; give node \"{owner}\" its own VNI, device, port, namespace or file");
                }
            }

            foreach (var key in keys)
            {
                _owners[key] = owner;
            }
        }

        return new Release(this, keys);
    }

    /// <summary>The resources currently claimed, with their owners.</summary>
    /// <returns>A snapshot.</returns>
    public IReadOnlyDictionary<string, string> Snapshot()
    {
        lock (_gate)
        {
            return new Dictionary<string, string>(_owners, StringComparer.Ordinal);
        }
    }

    private sealed class Release(NodeResourceClaims claims, string[] keys) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }

            lock (claims._gate)
            {
                foreach (var k in keys)
                {
                    claims._owners.Remove(k);
                }
            }
        }
    }
}
