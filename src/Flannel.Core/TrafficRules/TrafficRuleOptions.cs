using System.Globalization;
using System.Text.RegularExpressions;

namespace Flannel.TrafficRules;

/// <summary>
/// What traffic rules an instance installs and how: the engine, one switch per rule group, the resync period, the
/// instance's own chain and table names, the network namespace and the tool paths. Every flanneld flag about rules
/// maps to one property (see docs/traffic-rules.md).
/// </summary>
/// <example>
/// <code>
/// var options = new TrafficRuleOptions
/// {
///     Engine = TrafficRuleEngine.Nftables,
///     MasqueradeIPv6 = false,                 // IPv4 masquerade only
///     NftablesIPv4Table = "flannel-blue-ipv4", // a second instance needs its own names
///     NftablesIPv6Table = "flannel-blue-ipv6",
/// };
/// ITrafficManager rules = TrafficManager.Create(options, loggerFactory);
/// </code>
/// </example>
public sealed partial record TrafficRuleOptions
{
    /// <summary>flanneld's nat chain name, the default of <see cref="MasqueradeChain"/>.</summary>
    public const string DefaultMasqueradeChain = "FLANNEL-POSTRTG";

    /// <summary>flanneld's filter chain name, the default of <see cref="ForwardChain"/>.</summary>
    public const string DefaultForwardChain = "FLANNEL-FWD";

    /// <summary>flanneld's IPv4 nftables table name, the default of <see cref="NftablesIPv4Table"/>.</summary>
    public const string DefaultNftablesIPv4Table = "flannel-ipv4";

    /// <summary>flanneld's IPv6 nftables table name, the default of <see cref="NftablesIPv6Table"/>.</summary>
    public const string DefaultNftablesIPv6Table = "flannel-ipv6";

    private static readonly string[] ReservedChains =
    [
        "INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING", "ACCEPT", "DROP", "RETURN", "QUEUE", "MASQUERADE",
        "SNAT", "DNAT", "REJECT", "MARK", "LOG",
    ];

    private static readonly string[] ReservedTables = ["filter", "nat", "mangle", "raw", "security"];

    /// <summary>The engine; default <see cref="TrafficRuleEngine.Iptables"/> (flanneld without <c>EnableNFTables</c>).</summary>
    public TrafficRuleEngine Engine { get; init; } = TrafficRuleEngine.Iptables;

    /// <summary>
    /// Install the IPv4 masquerade rules (flanneld <c>--ip-masq</c>, which switches both families). Default true;
    /// the flanneld-compatible daemon sets it from <c>--ip-masq</c> (whose default is false).
    /// </summary>
    public bool MasqueradeIPv4 { get; init; } = true;

    /// <summary>Install the IPv6 masquerade rules. Default true (see <see cref="MasqueradeIPv4"/>).</summary>
    public bool MasqueradeIPv6 { get; init; } = true;

    /// <summary>Install the forward-accept rules for the flannel networks (flanneld <c>--iptables-forward-rules</c>, default true).</summary>
    public bool ForwardRules { get; init; } = true;

    /// <summary>
    /// Masquerade with fully randomised source ports (<c>--random-fully</c> / <c>fully-random</c>) when the tools
    /// support it; default true. flanneld's <c>--ip-masq-fully-random-disable</c> maps to false.
    /// </summary>
    public bool FullyRandom { get; init; } = true;

    /// <summary>How often the resync loop re-checks the rules and restores what is missing (flanneld <c>--iptables-resync</c>, default 5 s).</summary>
    public TimeSpan ResyncPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The iptables nat chain that holds the masquerade rules (jumped to from POSTROUTING). Per instance.</summary>
    public string MasqueradeChain { get; init; } = DefaultMasqueradeChain;

    /// <summary>The iptables filter chain that holds the forward rules (jumped to from FORWARD). Per instance.</summary>
    public string ForwardChain { get; init; } = DefaultForwardChain;

    /// <summary>The nftables table (family ip) that holds this instance's IPv4 rules.</summary>
    public string NftablesIPv4Table { get; init; } = DefaultNftablesIPv4Table;

    /// <summary>The nftables table (family ip6) that holds this instance's IPv6 rules.</summary>
    public string NftablesIPv6Table { get; init; } = DefaultNftablesIPv6Table;

    /// <summary>
    /// The network namespace to install the rules in, as a path (for example <c>/var/run/netns/node1</c>); null
    /// for the namespace of this process. When set, every tool runs as <c>nsenter --net=PATH tool …</c>.
    /// </summary>
    public string? NetworkNamespacePath { get; init; }

    /// <summary>The <c>iptables</c> program (used for its version, which tells whether <c>--random-fully</c> and <c>--wait</c> work).</summary>
    public string IptablesPath { get; init; } = "iptables";

    /// <summary>The <c>iptables-save</c> program.</summary>
    public string IptablesSavePath { get; init; } = "iptables-save";

    /// <summary>The <c>iptables-restore</c> program.</summary>
    public string IptablesRestorePath { get; init; } = "iptables-restore";

    /// <summary>The <c>ip6tables</c> program.</summary>
    public string Ip6tablesPath { get; init; } = "ip6tables";

    /// <summary>The <c>ip6tables-save</c> program.</summary>
    public string Ip6tablesSavePath { get; init; } = "ip6tables-save";

    /// <summary>The <c>ip6tables-restore</c> program.</summary>
    public string Ip6tablesRestorePath { get; init; } = "ip6tables-restore";

    /// <summary>The <c>nft</c> program.</summary>
    public string NftPath { get; init; } = "nft";

    /// <summary>The <c>nsenter</c> program, used when <see cref="NetworkNamespacePath"/> is set.</summary>
    public string NsenterPath { get; init; } = "nsenter";

    /// <summary>
    /// How long <c>iptables-restore</c> waits for the xtables lock (<c>--wait=SECONDS</c>, rounded up); default 5 s.
    /// Null runs without <c>--wait</c> (fails at once when another program holds the lock). Ignored by tools older
    /// than 1.6.2, which do not support it.
    /// </summary>
    public TimeSpan? XtablesLockWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest any single tool invocation may run before it is killed; default 30 s.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Remove the other engine's leftovers on <see cref="ITrafficManager.InitializeAsync"/> (this instance's nft tables
    /// when using iptables; its iptables chains when using nftables), as flanneld does at start. Default true.
    /// </summary>
    public bool CleanUpOtherEngine { get; init; } = true;

    /// <summary>
    /// The meter factory of the <c>Flannel.Core</c> meter's rule instruments (<c>flannel.rules.resyncs</c>,
    /// <c>flannel.rules.repairs</c>, <c>flannel.rules.failures</c>; docs/traffic-rules.md), or null for a private meter.
    /// <c>AddTrafficRules</c> (dependency injection) fills it from the service provider.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Checks every option; throws <see cref="FlannelConfigurationException"/> naming the first bad one.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Engine))
        {
            throw new FlannelConfigurationException(nameof(Engine), ((int)Engine).ToString(CultureInfo.InvariantCulture), "must be None, Iptables or Nftables");
        }

        if (ResyncPeriod <= TimeSpan.Zero || ResyncPeriod > TimeSpan.FromDays(1))
        {
            throw new FlannelConfigurationException(nameof(ResyncPeriod), ResyncPeriod.ToString(), "must be positive and at most one day");
        }

        if (CommandTimeout <= TimeSpan.Zero)
        {
            throw new FlannelConfigurationException(nameof(CommandTimeout), CommandTimeout.ToString(), "must be positive");
        }

        if (XtablesLockWait is { } w && (w <= TimeSpan.Zero || w > TimeSpan.FromHours(1)))
        {
            throw new FlannelConfigurationException(nameof(XtablesLockWait), w.ToString(), "must be positive and at most one hour, or null for no --wait");
        }

        CheckChain(nameof(MasqueradeChain), MasqueradeChain);
        CheckChain(nameof(ForwardChain), ForwardChain);
        CheckTable(nameof(NftablesIPv4Table), NftablesIPv4Table);
        CheckTable(nameof(NftablesIPv6Table), NftablesIPv6Table);
        CheckPath(nameof(IptablesPath), IptablesPath);
        CheckPath(nameof(IptablesSavePath), IptablesSavePath);
        CheckPath(nameof(IptablesRestorePath), IptablesRestorePath);
        CheckPath(nameof(Ip6tablesPath), Ip6tablesPath);
        CheckPath(nameof(Ip6tablesSavePath), Ip6tablesSavePath);
        CheckPath(nameof(Ip6tablesRestorePath), Ip6tablesRestorePath);
        CheckPath(nameof(NftPath), NftPath);
        CheckPath(nameof(NsenterPath), NsenterPath);
        if (NetworkNamespacePath is not null)
        {
            CheckPath(nameof(NetworkNamespacePath), NetworkNamespacePath);
        }
    }

    /// <summary>The nftables table of one family.</summary>
    internal string NftablesTable(IpFamily family) => family == IpFamily.V4 ? NftablesIPv4Table : NftablesIPv6Table;

    /// <summary>The masquerade switch of one family.</summary>
    internal bool Masquerade(IpFamily family) => family == IpFamily.V4 ? MasqueradeIPv4 : MasqueradeIPv6;

    private static void CheckChain(string field, string? value)
    {
        if (value is null || !ChainName().IsMatch(value))
        {
            throw new FlannelConfigurationException(field, value, "an iptables chain name is 1 to 28 characters from A-Z a-z 0-9 _ . - and does not start with - or .");
        }

        if (ReservedChains.Contains(value, StringComparer.Ordinal))
        {
            throw new FlannelConfigurationException(field, value, "is a built-in iptables chain or target name; this instance needs a chain of its own");
        }
    }

    private static void CheckTable(string field, string? value)
    {
        if (value is null || !TableName().IsMatch(value))
        {
            throw new FlannelConfigurationException(field, value, "an nftables table name is 1 to 64 characters from A-Z a-z 0-9 _ . - and starts with a letter or _");
        }

        if (ReservedTables.Contains(value, StringComparer.OrdinalIgnoreCase))
        {
            throw new FlannelConfigurationException(field, value, "is the name of an iptables-nft table; this instance needs a table of its own");
        }
    }

    private static void CheckPath(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Contains('\0', StringComparison.Ordinal))
        {
            throw new FlannelConfigurationException(field, value, "must be a program name or path");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}$")]
    private static partial Regex ChainName();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex TableName();
}
