using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>Log messages of the traffic-rule managers; EventIds 1600–1699 (Core's range reserved for traffic rules).</summary>
internal static partial class TrafficRulesLog
{
    [LoggerMessage(EventId = 1600, Level = LogLevel.Information, Message = "{Engine}: installed {Family} {Kind} rules in {Location} ({Detail})")]
    public static partial void RulesInstalled(ILogger logger, string engine, string family, string kind, string location, string detail);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Debug, Message = "{Engine}: {Family} {Kind} rules in {Location} are already in place")]
    public static partial void RulesInPlace(ILogger logger, string engine, string family, string kind, string location);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Information, Message = "{Engine}: removed {Family} {Kind} rules from {Location} ({Reason})")]
    public static partial void RulesRemoved(ILogger logger, string engine, string family, string kind, string location, string reason);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Warning, Message = "{Engine}: {Family} rules in {Location} were missing or altered; reinstalled them")]
    public static partial void RulesRepaired(ILogger logger, string engine, string family, string location);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Information, Message = "Removed the other engine's leftovers: {Engine} {What}")]
    public static partial void OtherEngineCleaned(ILogger logger, string engine, string what);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Debug, Message = "{Engine}: skipped {What}: {Reason}")]
    public static partial void Skipped(ILogger logger, string engine, string what, string reason);

    [LoggerMessage(EventId = 1606, Level = LogLevel.Information, Message = "{Tool} {Version} does not support {Feature}; installing rules without it")]
    public static partial void FeatureUnsupported(ILogger logger, string tool, string version, string feature);

    [LoggerMessage(EventId = 1607, Level = LogLevel.Debug, Message = "Ran {Command}: exit code {ExitCode}")]
    public static partial void CommandRan(ILogger logger, string command, int exitCode);

    [LoggerMessage(EventId = 1608, Level = LogLevel.Information, Message = "{Engine}: removed everything of this instance ({What})")]
    public static partial void TornDown(ILogger logger, string engine, string what);

    [LoggerMessage(EventId = 1609, Level = LogLevel.Information, Message = "Traffic rules are off (engine None): no masquerade or forward rules are installed")]
    public static partial void EngineNone(ILogger logger);

    [LoggerMessage(EventId = 1610, Level = LogLevel.Warning, Message = "Traffic rules were missing or altered and have been restored ({Count} repair(s) since the last report)")]
    public static partial void ResyncRepaired(ILogger logger, int count);

    [LoggerMessage(EventId = 1611, Level = LogLevel.Error, Message = "Traffic rule resync failed ({Count} failure(s) since the last report, {Total} in a row); retrying every period, next report in at most a minute")]
    public static partial void ResyncFailed(ILogger logger, int count, int total, Exception exception);

    [LoggerMessage(EventId = 1612, Level = LogLevel.Information, Message = "Traffic rule resync works again after {Failures} failure(s)")]
    public static partial void ResyncRecovered(ILogger logger, int failures);

    [LoggerMessage(EventId = 1613, Level = LogLevel.Debug, Message = "{Engine}: {Family} rules are in place")]
    public static partial void ResyncInPlace(ILogger logger, string engine, string family);

    [LoggerMessage(EventId = 1614, Level = LogLevel.Warning, Message = "Could not remove the other engine's leftovers ({Engine}); continuing")]
    public static partial void OtherEngineCleanupFailed(ILogger logger, string engine, Exception exception);

    [LoggerMessage(EventId = 1615, Level = LogLevel.Warning, Message = "nftables: {Location} could not be updated in place (a chain of that name with another type, hook or priority?); rebuilding the whole table")]
    public static partial void RebuildingTable(ILogger logger, string location, Exception exception);
}
