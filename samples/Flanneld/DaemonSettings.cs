using System.Globalization;
using System.Net;

namespace Flanneld;

/// <summary>The daemon's settings, validated from the command line and FLANNELD_* variables.</summary>
internal sealed record DaemonSettings
{
    public IReadOnlyList<string> EtcdEndpoints { get; init; } = [];

    public string EtcdPrefix { get; init; } = "/coreos.com/network";

    public string? EtcdKeyFile { get; init; }

    public string? EtcdCertFile { get; init; }

    public string? EtcdCaFile { get; init; }

    public string? EtcdUsername { get; init; }

    public string? EtcdPassword { get; init; }

    public string DatastorePath { get; init; } = "/var/lib/flannel/leases.db";

    public string StateDirectory { get; init; } = "/var/lib/flannel";

    public string NetConfigPath { get; init; } = "/etc/kube-flannel/net-conf.json";

    public IReadOnlyList<string> Interfaces { get; init; } = [];

    public IReadOnlyList<string> InterfaceRegexes { get; init; } = [];

    public IPAddress? InterfaceCanReach { get; init; }

    public IPAddress? PublicIP { get; init; }

    public IPAddress? PublicIPv6 { get; init; }

    public string SubnetFile { get; init; } = "/run/flannel/subnet.env";

    public int RenewMarginMinutes { get; init; } = 60;

    public bool IPMasq { get; init; }

    public bool FullyRandomDisabled { get; init; }

    public int IptablesResyncSeconds { get; init; } = 5;

    public bool ForwardRules { get; init; } = true;

    public bool BlackholeRoute { get; init; }

    public IPAddress HealthzIP { get; init; } = IPAddress.Any;

    public int HealthzPort { get; init; }

    public string? NetworkNamespace { get; init; }

    public string? NodeName { get; init; }

    public bool AllowBackendChange { get; init; }

    public int Verbosity { get; init; }

    /// <summary>The etcd store is used when endpoints are given; otherwise the embedded SQLite store.</summary>
    public bool UsesEtcd => EtcdEndpoints.Count > 0;

    /// <summary>The namespace path, resolving a bare name to /var/run/netns/NAME.</summary>
    public string? NetworkNamespacePath =>
        NetworkNamespace is not { Length: > 0 } ns ? null : ns.Contains('/', StringComparison.Ordinal) ? ns : "/var/run/netns/" + ns;

    public static DaemonSettings From(GoFlags f, IReadOnlyDictionary<string, string> environment)
    {
        if (f.GetBool("kube-subnet-mgr"))
        {
            throw new FlagException("-kube-subnet-mgr: the Kubernetes subnet manager is not part of this build; use etcd (-etcd-endpoints) or the embedded store (the default)", 1);
        }

        var margin = f.GetInt("subnet-lease-renew-margin");
        if (margin < 1 || margin > 1439)
        {
            throw new FlagException($"invalid value \"{margin}\" for {f.Source("subnet-lease-renew-margin")}: the renew margin must be between 1 and 1439 minutes", 1);
        }

        var resync = f.GetInt("iptables-resync");
        if (resync < 1)
        {
            throw new FlagException($"invalid value \"{resync}\" for {f.Source("iptables-resync")}: must be at least 1 second", 1);
        }

        var port = f.GetInt("healthz-port");
        if (port < 0 || port > 65535)
        {
            throw new FlagException($"invalid value \"{port}\" for {f.Source("healthz-port")}: must be a TCP port between 0 and 65535", 1);
        }

        var endpoints = f.GetString("etcd-endpoints").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var e in endpoints)
        {
            if (!Uri.TryCreate(e, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new FlagException($"invalid value \"{e}\" for {f.Source("etcd-endpoints")}: each endpoint must be an http:// or https:// URL", 1);
            }
        }

        var nodeName = f.GetString("node-name");
        if (nodeName.Length == 0 && environment.TryGetValue("NODE_NAME", out var envNode))
        {
            nodeName = envNode;
        }

        return new DaemonSettings
        {
            EtcdEndpoints = endpoints,
            EtcdPrefix = f.GetString("etcd-prefix"),
            EtcdKeyFile = NullIfEmpty(f.GetString("etcd-keyfile")),
            EtcdCertFile = NullIfEmpty(f.GetString("etcd-certfile")),
            EtcdCaFile = NullIfEmpty(f.GetString("etcd-cafile")),
            EtcdUsername = NullIfEmpty(f.GetString("etcd-username")),
            EtcdPassword = NullIfEmpty(f.GetString("etcd-password")),
            DatastorePath = f.GetString("datastore-path"),
            StateDirectory = f.GetString("state-dir"),
            NetConfigPath = f.GetString("net-config-path"),
            Interfaces = f.GetList("iface"),
            InterfaceRegexes = ValidateRegexes(f),
            InterfaceCanReach = ParseIP(f, "iface-can-reach", null),
            PublicIP = ParseIP(f, "public-ip", System.Net.Sockets.AddressFamily.InterNetwork),
            PublicIPv6 = ParseIP(f, "public-ipv6", System.Net.Sockets.AddressFamily.InterNetworkV6),
            SubnetFile = f.GetString("subnet-file"),
            RenewMarginMinutes = margin,
            IPMasq = f.GetBool("ip-masq"),
            FullyRandomDisabled = f.GetBool("ip-masq-fully-random-disable"),
            IptablesResyncSeconds = resync,
            ForwardRules = f.GetBool("iptables-forward-rules"),
            BlackholeRoute = f.GetBool("ip-blackhole-route"),
            HealthzIP = ParseIP(f, "healthz-ip", null) ?? IPAddress.Any,
            HealthzPort = port,
            NetworkNamespace = NullIfEmpty(f.GetString("netns")),
            NodeName = NullIfEmpty(nodeName),
            AllowBackendChange = f.GetBool("allow-backend-change"),
            Verbosity = f.GetInt("v"),
        };
    }

    private static IReadOnlyList<string> ValidateRegexes(GoFlags f)
    {
        var list = f.GetList("iface-regex");
        foreach (var r in list)
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(r, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                throw new FlagException($"invalid value \"{r}\" for {f.Source("iface-regex")}: not a valid regular expression ({ex.Message})", 1);
            }
        }

        return list;
    }

    private static IPAddress? ParseIP(GoFlags f, string name, System.Net.Sockets.AddressFamily? family)
    {
        var s = f.GetString(name);
        if (s.Length == 0)
        {
            return null;
        }

        // Go's net.ParseIP: IPv4 only as a plain dotted quad (no "1.2.3", "010.0.0.1" or "0x7f.1" shorthands, which
        // IPAddress.TryParse would quietly read as other addresses), IPv6 without a zone.
        if (!IPAddress.TryParse(s, out var ip) || (family is { } fam && ip.AddressFamily != fam) ||
            (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? ip.ToString() != s : !s.Contains(':', StringComparison.Ordinal) || s.Contains('%', StringComparison.Ordinal)))
        {
            var want = family switch
            {
                System.Net.Sockets.AddressFamily.InterNetwork => "an IPv4 address written as four decimal numbers, such as 10.0.0.1",
                System.Net.Sockets.AddressFamily.InterNetworkV6 => "an IPv6 address without a zone, such as fd00::1",
                _ => "an IP address (IPv4 written as four decimal numbers, such as 10.0.0.1)",
            };
            throw new FlagException($"invalid value \"{s}\" for {f.Source(name)}: must be {want}", 1);
        }

        return ip;
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"store={(UsesEtcd ? "etcd" : "embedded")}");
}
