namespace Flannel.Node;

/// <summary>
/// The default <see cref="ILeaseStateStore"/>: flannel's subnet.env file (written atomically, byte-compatible with
/// flanneld, plus a trailing <c>FLANNEL_BACKEND_TYPE</c> line), which the flannel CNI plugin reads.
/// </summary>
public sealed class SubnetEnvStateStore : ILeaseStateStore
{
    /// <summary>Creates a store over the given file.</summary>
    /// <param name="path">The file, for example <c>/run/flannel/subnet.env</c>.</param>
    public SubnetEnvStateStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public async ValueTask<SubnetEnvironment?> LoadAsync(CancellationToken cancellationToken) =>
        await SubnetEnvFile.ReadAsync(Path, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask SaveAsync(SubnetEnvironment state, CancellationToken cancellationToken) =>
        await SubnetEnvFile.WriteAsync(Path, state, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
        {
            return ValueTask.FromResult(false);
        }

        File.Delete(Path);
        return ValueTask.FromResult(true);
    }
}
