using Flannel.TestKit;

namespace Flannel.Daemon.Tests;

/// <summary>One simulated host's flanneld: its files (subnet.env, state dir) and its command line.</summary>
internal sealed class DaemonNode
{
    public DaemonNode(SimulatedHost host, string workDirectory, string datastorePath, string netConfPath)
    {
        Host = host;
        Directory = Path.Combine(workDirectory, host.Name);
        System.IO.Directory.CreateDirectory(Directory);
        DatastorePath = datastorePath;
        NetConfPath = netConfPath;
        HealthzPort = FlanneldProcess.FreePort();
    }

    public SimulatedHost Host { get; }

    public TestNamespace Namespace => Host.Namespace;

    public string Directory { get; }

    public string DatastorePath { get; }

    public string NetConfPath { get; }

    public string SubnetFile => Path.Combine(Directory, "run", "subnet.env");

    public string StateDirectory => Path.Combine(Directory, "state");

    public int HealthzPort { get; }

    public List<string> Args(params string[] extra) =>
    [
        "--netns", Namespace.Name,
        "--iface", "eth0",
        "--net-config-path", NetConfPath,
        "--datastore-path", DatastorePath,
        "--subnet-file", SubnetFile,
        "--state-dir", StateDirectory,
        "--healthz-ip", "127.0.0.1",
        "--healthz-port", HealthzPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--node-name", Host.Name,
        .. extra,
    ];

    public FlanneldProcess Start(params string[] extra) => FlanneldProcess.Start(Args(extra), HealthzPort);

    /// <summary>Starts another build of flanneld (the Native AOT one) with this node's arguments.</summary>
    public FlanneldProcess StartBinary(string binary, params string[] extra) => FlanneldProcess.Start(Args(extra), HealthzPort, binary: binary);

    public (int ExitCode, string Output) Cleanup(params string[] extra) =>
        FlanneldProcess.Run(["cleanup", .. Args(extra)], TimeSpan.FromSeconds(60));

    /// <summary>Reads subnet.env as ordered lines.</summary>
    public string[] SubnetEnvLines() => File.ReadAllLines(SubnetFile);

    /// <summary>Reads one subnet.env value.</summary>
    public string SubnetEnv(string key) =>
        SubnetEnvLines().Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

    /// <summary>The routes of the host's main table, as iproute2 prints them.</summary>
    public string RoutesText() => Namespace.Ip("route", "show");

    public bool HasLink(string name) => Shell.Run("ip", ["-n", Namespace.Name, "link", "show", name]).ExitCode == 0;
}
