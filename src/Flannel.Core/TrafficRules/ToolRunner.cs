using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>The outcome of one tool invocation.</summary>
internal readonly record struct ToolResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs the packet-filter tools, inside <see cref="TrafficRuleOptions.NetworkNamespacePath"/> through nsenter when
/// it is set, with a time limit and the C locale (so messages are stable).
/// </summary>
internal sealed class ToolRunner(TrafficRuleOptions options, ILogger logger)
{
    /// <summary>Runs a tool and returns its exit code and output; throws only when it cannot start or time runs out.</summary>
    public async Task<ToolResult> RunAsync(string tool, IReadOnlyList<string> args, string? stdin, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["LC_ALL"] = "C";
        if (options.NetworkNamespacePath is { } ns)
        {
            psi.FileName = options.NsenterPath;
            psi.ArgumentList.Add("--net=" + ns);
            psi.ArgumentList.Add(tool);
        }
        else
        {
            psi.FileName = tool;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var commandLine = Describe(tool, args);
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new TrafficRuleException($"cannot start {psi.FileName}", commandLine, null, null);
        }
        catch (Win32Exception ex)
        {
            throw new TrafficRuleException(
                $"cannot run '{psi.FileName}' for '{commandLine}': {ex.Message} (set the tool's path in TrafficRuleOptions, or install it)",
                commandLine,
                null,
                null,
                ex)
            { ToolMissing = true };
        }

        using (process)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(options.CommandTimeout);
            try
            {
                var stdoutTask = process.StandardOutput.ReadToEndAsync(timeout.Token);
                var stderrTask = process.StandardError.ReadToEndAsync(timeout.Token);
                try
                {
                    if (stdin is not null)
                    {
                        await process.StandardInput.WriteAsync(stdin.AsMemory(), timeout.Token).ConfigureAwait(false);
                    }

                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The program exited without reading its input (for example nsenter could not enter the
                    // namespace); its exit code and standard error tell why.
                }
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                var stdout = await stdoutTask.ConfigureAwait(false);
                var stderr = await stderrTask.ConfigureAwait(false);
                TrafficRulesLog.CommandRan(logger, commandLine, process.ExitCode);

                // nsenter reports a program it cannot execute with 126/127, like a shell.
                if (options.NetworkNamespacePath is not null && process.ExitCode is 126 or 127 && stderr.StartsWith("nsenter:", StringComparison.Ordinal))
                {
                    throw new TrafficRuleException(
                        $"'{commandLine}' could not run in {options.NetworkNamespacePath}: {stderr.Trim()}",
                        commandLine,
                        process.ExitCode,
                        stderr.Trim())
                    { ToolMissing = true };
                }

                return new ToolResult(process.ExitCode, stdout, stderr);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Kill(process);
                throw new TrafficRuleException($"'{commandLine}' did not finish within {options.CommandTimeout}", commandLine, null, null);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                throw;
            }
            catch (IOException ex)
            {
                Kill(process);
                throw new TrafficRuleException($"'{commandLine}' failed: {ex.Message}", commandLine, null, null, ex);
            }
        }
    }

    /// <summary>Runs a tool and returns its standard output; throws <see cref="TrafficRuleException"/> when it exits non-zero.</summary>
    public async Task<string> CheckAsync(string tool, IReadOnlyList<string> args, string? stdin, string what, CancellationToken cancellationToken)
    {
        var r = await RunAsync(tool, args, stdin, cancellationToken).ConfigureAwait(false);
        if (r.ExitCode != 0)
        {
            var commandLine = Describe(tool, args);
            var err = r.Stderr.Trim();
            var input = stdin is null ? string.Empty : Environment.NewLine + "input was:" + Environment.NewLine + stdin;
            throw new TrafficRuleException($"{what} failed: '{commandLine}' exited {r.ExitCode}: {(err.Length == 0 ? "(no error output)" : err)}{input}", commandLine, r.ExitCode, err);
        }

        return r.Stdout;
    }

    private string Describe(string tool, IReadOnlyList<string> args)
    {
        var sb = new StringBuilder();
        if (options.NetworkNamespacePath is { } ns)
        {
            sb.Append(options.NsenterPath).Append(" --net=").Append(ns).Append(' ');
        }

        sb.Append(tool);
        foreach (var a in args)
        {
            sb.Append(' ').Append(a);
        }

        return sb.ToString();
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (Win32Exception)
        {
        }
    }
}
