using System.Text;

namespace Flannel;

/// <summary>Reads and writes subnet.env files (see <see cref="SubnetEnvironment"/>).</summary>
public static class SubnetEnvFile
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirectoryMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// Writes the file atomically, as flanneld does: a temporary file in the same directory, mode 0644, flushed to disk,
    /// then renamed over <paramref name="path"/>. A missing parent directory is created with mode 0755 (umask ignored).
    /// </summary>
    /// <param name="path">The file, for example <c>/run/flannel/subnet.env</c>.</param>
    /// <param name="environment">The content.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the file is in place.</returns>
    /// <exception cref="FlannelException">
    /// The file cannot be written; the message names the file and why (a parent that is a file, a read-only file
    /// system, permission denied, the path is a directory).
    /// </exception>
    public static async Task WriteAsync(string path, SubnetEnvironment environment, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(environment);
        var full = Path.GetFullPath(path);
        try
        {
            await WriteCoreAsync(full, environment, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FlannelException($"cannot write the subnet file {full}: {Explain(full, ex)}", ex);
        }
    }

    private static async Task WriteCoreAsync(string full, SubnetEnvironment environment, CancellationToken cancellationToken)
    {
        if (full.EndsWith(Path.DirectorySeparatorChar) || Directory.Exists(full))
        {
            throw new IOException("it is a directory; give a file path such as /run/flannel/subnet.env");
        }

        var dir = Path.GetDirectoryName(full) ?? throw new IOException("it has no parent directory");
        if (!Directory.Exists(dir))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(dir);
            }
            else
            {
                Directory.CreateDirectory(dir, DirectoryMode);
                File.SetUnixFileMode(dir, DirectoryMode);
            }
        }

        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            var bytes = Encoding.UTF8.GetBytes(environment.Format());
            var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = FileMode;
            }

            var stream = new FileStream(temp, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, FileMode);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Why <paramref name="path"/> could not be written or read, for people.</summary>
    private static string Explain(string path, Exception ex)
    {
        // A parent that exists as a file makes every .NET call report a confusing "file already exists" or "not found".
        for (var dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir))
            {
                return $"{dir} is a file, not a directory";
            }
        }

        return ex switch
        {
            UnauthorizedAccessException => $"permission denied ({ex.Message})",
            _ => ex.Message,
        };
    }

    /// <summary>Reads a subnet.env file; see <see cref="SubnetEnvironment.Parse"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The content, or null when the file does not exist.</returns>
    /// <exception cref="FlannelConfigurationException">A value is malformed; the message names the file, the key and the value.</exception>
    /// <exception cref="FlannelException">The file exists but cannot be read (it is a directory, permission denied).</exception>
    public static async Task<SubnetEnvironment?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            if (Directory.Exists(path))
            {
                throw new IOException("it is a directory; give a file path such as /run/flannel/subnet.env");
            }

            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var full = Path.GetFullPath(path);
            throw new FlannelException($"cannot read the subnet file {full}: {Explain(full, ex)}", ex);
        }

        try
        {
            return SubnetEnvironment.Parse(text);
        }
        catch (FlannelConfigurationException ex) when (ex.Field is not null)
        {
            throw new FlannelConfigurationException(ex.Field, ex.Value, $"{ex.Rule} (in {path})", ex);
        }
        catch (FlannelConfigurationException ex)
        {
            throw new FlannelConfigurationException($"{path}: {ex.Message}", ex);
        }
    }
}
