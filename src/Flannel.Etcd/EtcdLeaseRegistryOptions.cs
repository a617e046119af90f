namespace Flannel.Etcd;

/// <summary>Options of <see cref="EtcdLeaseRegistry"/>: where etcd is, how to authenticate, and flannel's key prefix.</summary>
public sealed record EtcdLeaseRegistryOptions
{
    /// <summary>flannel's default key prefix (<c>--etcd-prefix</c>).</summary>
    public const string DefaultPrefix = "/coreos.com/network";

    /// <summary>
    /// The etcd client URLs (<c>--etcd-endpoints</c>), for example <c>http://10.0.0.1:2379</c> or <c>https://…</c>.
    /// Several endpoints are used in order, failing over when one is down. Default: <c>http://127.0.0.1:2379</c>.
    /// </summary>
    public IReadOnlyList<string> Endpoints { get; init; } = ["http://127.0.0.1:2379"];

    /// <summary>The key prefix (<c>--etcd-prefix</c>); a trailing <c>/</c> is dropped. Default <c>/coreos.com/network</c>.</summary>
    public string Prefix { get; init; } = DefaultPrefix;

    /// <summary>PEM file of the CA that signs etcd's server certificate (<c>--etcd-cafile</c>); null trusts the system store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate (<c>--etcd-certfile</c>); used together with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; init; }

    /// <summary>PEM private key of the client certificate (<c>--etcd-keyfile</c>).</summary>
    public string? KeyFile { get; init; }

    /// <summary>etcd user name (<c>--etcd-username</c>); null when etcd auth is off.</summary>
    public string? Username { get; init; }

    /// <summary>etcd password (<c>--etcd-password</c>).</summary>
    public string? Password { get; init; }

    /// <summary>Time limit of each request (get, put, transaction, grant). Default 10 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time limit to open a connection to an endpoint. Default 5 s.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay before a watch reconnects; doubled after each failure up to <see cref="ReconnectMaxDelay"/>. Default 100 ms.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest delay between watch reconnection attempts. Default 5 s.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);
}
