using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Flannel.Daemon.Tests;

/// <summary>
/// The built flanneld binary run as a child process: output captured, every wait bounded, killed by PID when the
/// test ends without it having exited.
/// </summary>
internal sealed partial class FlanneldProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private FlanneldProcess(Process process, int? healthzPort)
    {
        _process = process;
        HealthzPort = healthzPort;
    }

    /// <summary>The path of the flanneld built next to this test assembly's configuration.</summary>
    public static string BinaryPath { get; } = FindBinary();

    public int Pid => _process.Id;

    public int? HealthzPort { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static FlanneldProcess Start(IEnumerable<string> args, int? healthzPort = null, IReadOnlyDictionary<string, string>? environment = null, string? binary = null)
    {
        var psi = new ProcessStartInfo(binary ?? BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("FLANNELD_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start flanneld");
        var fp = new FlanneldProcess(p, healthzPort);
        p.StandardInput.Close();
        p.OutputDataReceived += (_, e) => fp.Append(e.Data);
        p.ErrorDataReceived += (_, e) => fp.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return fp;
    }

    /// <summary>Runs flanneld to completion (bounded) and returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var p = Start(args, null, environment);
        var code = p.WaitForExit(timeout ?? TimeSpan.FromSeconds(60));
        return (code, p.Output);
    }

    /// <summary>Waits for the exit; on timeout kills the process and fails.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"flanneld (pid {Pid}) did not exit in {timeout}; output:\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM (as systemd and the kubelet do).</summary>
    public void Terminate()
    {
        if (SysKill(Pid, 15) != 0)
        {
            throw new InvalidOperationException($"kill({Pid}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>GETs a health path on loopback; returns the status code and body (0 when nothing listens).</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var r = await http.GetAsync(new Uri($"http://127.0.0.1:{HealthzPort}{path}")).ConfigureAwait(false);
            return ((int)r.StatusCode, await r.Content.ReadAsStringAsync().ConfigureAwait(false));
        }
        catch (HttpRequestException)
        {
            return (0, string.Empty);
        }
    }

    /// <summary>Polls /readyz until 200 (bounded); fails with the daemon's output when it exits or times out.</summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                throw new InvalidOperationException($"flanneld exited {_process.ExitCode} before ready; output:\n{Output}");
            }

            if ((await GetAsync("/readyz").ConfigureAwait(false)).Status == 200)
            {
                return;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        throw new TimeoutException($"flanneld not ready in time; output:\n{Output}");
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>A TCP port free on loopback right now.</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static string FindBinary()
    {
        var baseDir = AppContext.BaseDirectory;
        var config = baseDir.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        var dir = new DirectoryInfo(baseDir);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Flannel.Net.sln")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            throw new InvalidOperationException($"cannot find the repository root above {baseDir}");
        }

        var path = Path.Combine(dir.FullName, "samples", "Flanneld", "bin", config, "net10.0", "flanneld");
        return File.Exists(path) ? path : throw new FileNotFoundException($"flanneld is not built at {path}", path);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
