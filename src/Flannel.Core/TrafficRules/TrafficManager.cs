using Microsoft.Extensions.Logging;

namespace Flannel.TrafficRules;

/// <summary>Creates the built-in <see cref="ITrafficManager"/> for <see cref="TrafficRuleOptions.Engine"/>.</summary>
public static class TrafficManager
{
    /// <summary>Creates the manager of the configured engine.</summary>
    /// <param name="options">The options; validated here.</param>
    /// <param name="loggerFactory">The logger factory, or null for no logs.</param>
    /// <param name="timeProvider">The clock of the resync loop, or null for the system clock.</param>
    /// <returns>An <see cref="IptablesTrafficManager"/>, <see cref="NftablesTrafficManager"/> or <see cref="NoTrafficManager"/>.</returns>
    /// <exception cref="FlannelConfigurationException">An option is invalid.</exception>
    /// <example>
    /// <code>
    /// var rules = TrafficManager.Create(new TrafficRuleOptions { Engine = TrafficRuleEngine.Nftables }, loggerFactory);
    /// </code>
    /// </example>
    public static ITrafficManager Create(TrafficRuleOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Engine switch
        {
            TrafficRuleEngine.Iptables => new IptablesTrafficManager(options, loggerFactory, timeProvider),
            TrafficRuleEngine.Nftables => new NftablesTrafficManager(options, loggerFactory, timeProvider),
            TrafficRuleEngine.None => new NoTrafficManager(options, loggerFactory, timeProvider),
            _ => throw new FlannelConfigurationException(nameof(TrafficRuleOptions.Engine), options.Engine.ToString(), "must be None, Iptables or Nftables"),
        };
    }
}
