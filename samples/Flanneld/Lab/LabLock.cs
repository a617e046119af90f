namespace Flanneld.Labs;

/// <summary>
/// One <c>lab up</c> or <c>lab down</c> at a time per lab name: an exclusive advisory lock (flock, through
/// <see cref="FileShare.None"/>) on <c>DIR.lock</c> next to the lab directory, held for the whole command. A second
/// command on the same lab fails at once with a clear message instead of tearing down a lab that is being built.
/// The kernel drops the lock when the holder dies (even by SIGKILL), so a crashed run never blocks the next one.
/// Labs with different names use different lock files.
/// </summary>
internal sealed class LabLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _path;

    private LabLock(FileStream stream, string path)
    {
        _stream = stream;
        _path = path;
    }

    public static LabLock Acquire(string directory, LabName name)
    {
        var path = Path.TrimEndingDirectorySeparator(directory) + ".lock";
        if (Path.GetDirectoryName(path) is { Length: > 0 } parent)
        {
            Directory.CreateDirectory(parent);
        }

        try
        {
            return new LabLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None), path);
        }
        catch (IOException ex) when (File.Exists(path))
        {
            throw new IOException($"lab {name} is in use: another `flanneld lab up` or `lab down` holds {path}; wait for it or stop it (Ctrl-C on `lab up` tears its lab down)", ex);
        }
    }

    /// <summary>Removes the lock file, then releases the lock.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Best effort: a leftover lock file holds no lock.
        }
        catch (UnauthorizedAccessException)
        {
        }

        _stream.Dispose();
    }
}
