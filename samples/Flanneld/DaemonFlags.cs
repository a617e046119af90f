namespace Flanneld;

/// <summary>flanneld's flags (spec §5.1) with the same names and defaults, plus the embedded-store ones.</summary>
internal static class DaemonFlags
{
    public static IEnumerable<FlagDefinition> All =>
    [
        new("etcd-endpoints", FlagKind.String, string.Empty, "a comma-delimited list of etcd endpoints; empty uses the embedded store (flanneld's default is http://127.0.0.1:4001,http://127.0.0.1:2379)"),
        new("etcd-prefix", FlagKind.String, "/coreos.com/network", "etcd prefix"),
        new("etcd-keyfile", FlagKind.String, string.Empty, "SSL key file used to secure etcd communication"),
        new("etcd-certfile", FlagKind.String, string.Empty, "SSL certification file used to secure etcd communication"),
        new("etcd-cafile", FlagKind.String, string.Empty, "SSL Certificate Authority file used to secure etcd communication"),
        new("etcd-username", FlagKind.String, string.Empty, "username for BasicAuth to etcd"),
        new("etcd-password", FlagKind.String, string.Empty, "password for BasicAuth to etcd"),
        new("datastore-path", FlagKind.String, "/var/lib/flannel/leases.db", "embedded lease store file (used when no etcd endpoints are given)"),
        new("state-dir", FlagKind.String, "/var/lib/flannel", "directory for local state (VTEP MAC addresses)"),
        new("kube-subnet-mgr", FlagKind.Bool, "false", "contact the Kubernetes API for subnet assignment (not supported by this build)"),
        new("net-config-path", FlagKind.String, "/etc/kube-flannel/net-conf.json", "path to the network configuration file (embedded store)"),
        new("iface", FlagKind.List, string.Empty, "interface to use (IP or name) for inter-host communication; repeatable"),
        new("iface-regex", FlagKind.List, string.Empty, "regex of the IP address or name of the interface to use; repeatable"),
        new("iface-can-reach", FlagKind.String, string.Empty, "detect the interface to use from the route to this IP"),
        new("public-ip", FlagKind.String, string.Empty, "IP accessible by other nodes for inter-host communication"),
        new("public-ipv6", FlagKind.String, string.Empty, "IPv6 accessible by other nodes for inter-host communication"),
        new("subnet-file", FlagKind.String, "/run/flannel/subnet.env", "filename where env variables (subnet, MTU, ...) will be written to"),
        new("subnet-lease-renew-margin", FlagKind.Int, "60", "subnet lease renewal margin, in minutes, ranging from 1 to 1439"),
        new("ip-masq", FlagKind.Bool, "false", "setup IP masquerade rule for traffic destined outside of overlay network"),
        new("ip-masq-fully-random-disable", FlagKind.Bool, "false", "disable the --random-fully / fully-random flag of the masquerade rules"),
        new("iptables-resync", FlagKind.Int, "5", "resync period for iptables rules, in seconds"),
        new("iptables-forward-rules", FlagKind.Bool, "true", "add default accept rules to FORWARD chain in iptables"),
        new("ip-blackhole-route", FlagKind.Bool, "false", "add a blackhole route for the node's own subnet"),
        new("healthz-ip", FlagKind.String, "0.0.0.0", "the IP address for the healthz server to listen on"),
        new("healthz-port", FlagKind.Int, "0", "the port for the healthz server to listen on (0 to disable)"),
        new("netns", FlagKind.String, string.Empty, "network namespace (path or name under /var/run/netns) to run in; empty for the current one"),
        new("node-name", FlagKind.String, string.Empty, "this node's name (flanneld reads NODE_NAME)"),
        new("allow-backend-change", FlagKind.Bool, "false", "allow starting with a backend type different from the node's previous lease"),
        new("v", FlagKind.Int, "0", "log level for V logs (0 info, higher is more verbose)"),
        new("vmodule", FlagKind.String, string.Empty, "klog's per-file verbosity; accepted so flanneld command lines keep working, ignored (use -v)"),
        new("log_backtrace_at", FlagKind.String, string.Empty, "klog's backtrace location; accepted so flanneld command lines keep working, ignored"),
        new("version", FlagKind.Bool, "false", "print version and exit"),
    ];
}
