namespace Flannel.TrafficRules;

/// <summary>
/// A packet-filter tool (iptables, ip6tables, nft, nsenter) could not be run, failed, or printed something that
/// could not be understood. The message names the command, its exit code and what it printed on standard error.
/// </summary>
public sealed class TrafficRuleException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public TrafficRuleException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public TrafficRuleException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public TrafficRuleException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a failed command.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="command">The command line that failed.</param>
    /// <param name="exitCode">Its exit code, or null when it could not be started or did not finish.</param>
    /// <param name="standardError">What it printed on standard error (trimmed).</param>
    /// <param name="innerException">An optional cause.</param>
    public TrafficRuleException(string message, string command, int? exitCode, string? standardError, Exception? innerException = null)
        : base(message, innerException)
    {
        Command = command;
        ExitCode = exitCode;
        StandardError = standardError;
    }

    /// <summary>The command line that failed, when a command failed.</summary>
    public string? Command { get; }

    /// <summary>The exit code of the command, or null when it could not be started or timed out.</summary>
    public int? ExitCode { get; }

    /// <summary>What the command printed on standard error.</summary>
    public string? StandardError { get; }

    /// <summary>
    /// True when trying again later may help: iptables exit code 4 (another program holds the xtables lock,
    /// or the rule set changed under the transaction) or a command that timed out.
    /// </summary>
    public override bool IsTransient => ExitCode == 4 || (Command is not null && ExitCode is null && !ToolMissing);

    /// <summary>True when the program itself was not found (so nothing of this engine can be installed).</summary>
    internal bool ToolMissing { get; init; }
}
