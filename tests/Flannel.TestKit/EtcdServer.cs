using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Flannel.TestKit;

/// <summary>
/// A real etcd (the <c>etcd</c> binary of Debian's etcd-server) on loopback with random free ports and a temporary
/// data directory, for one test or one test class. It can be stopped (killed by PID, as a crash would) and
/// restarted on the same data directory and ports, and offers raw helpers over etcd's own JSON gateway (put, get,
/// grant, compact) so that tests can check stored bytes independently of the client under test.
/// </summary>
/// <remarks>
/// When the binary is missing the test is skipped with the reason, unless FLANNEL_TEST_REQUIRE_PRIVILEGED=1, in
/// which case it fails with the same reason. Disposing stops the process and deletes the data directory.
/// </remarks>
public sealed class EtcdServer : IAsyncDisposable
{
    private readonly HttpClient Http;
    private readonly string _binary;
    private readonly EtcdTlsFiles? _tls;
    private Process? _process;
    private readonly StringBuilder _output = new();

    private EtcdServer(string binary, string dataDir, int clientPort, int peerPort, EtcdTlsFiles? tls)
    {
        _binary = binary;
        _tls = tls;
        var handler = new SocketsHttpHandler();
        if (tls is not null)
        {
            var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(tls.CaFile);
            handler.SslOptions.ClientCertificates = [System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(tls.ClientCertFile, tls.ClientKeyFile)];
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, _) =>
            {
                using var c = new System.Security.Cryptography.X509Certificates.X509Chain();
                c.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                c.ChainPolicy.CustomTrustStore.Add(ca);
                c.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return cert is not null && c.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(cert));
            };
        }

        Http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        DataDirectory = dataDir;
        ClientPort = clientPort;
        PeerPort = peerPort;
    }

    /// <summary>The client endpoint, for example <c>http://127.0.0.1:40123</c>.</summary>
    public string Endpoint => $"{(_tls is null ? "http" : "https")}://127.0.0.1:{ClientPort.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The client port.</summary>
    public int ClientPort { get; }

    /// <summary>The peer port.</summary>
    public int PeerPort { get; }

    /// <summary>The data directory (deleted on dispose).</summary>
    public string DataDirectory { get; }

    /// <summary>The etcd process id while it runs, otherwise null.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Finds the etcd binary (PATH, /usr/bin, /usr/local/bin), or null.</summary>
    /// <returns>The path, or null.</returns>
    public static string? FindBinary()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]);
        return dirs.Select(d => System.IO.Path.Combine(d, "etcd")).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts a fresh etcd and waits until it is healthy; skips (or fails in strict mode) when etcd is not installed.</summary>
    /// <param name="tls">When given, etcd serves clients over HTTPS only and requires a client certificate signed by the CA.</param>
    /// <returns>The running server.</returns>
    public static async Task<EtcdServer> StartAsync(EtcdTlsFiles? tls = null)
    {
        var binary = FindBinary();
        if (binary is null)
        {
            const string reason = "needs the etcd binary (apt-get install etcd-server)";
            if (Privileges.Required)
            {
                throw new InvalidOperationException($"{reason}; {Privileges.RequireVariable}=1 forbids skipping");
            }

            Assert.Skip(reason + $"; set {Privileges.RequireVariable}=1 to fail instead of skipping");
        }

        var dir = Directory.CreateTempSubdirectory("fln-etcd-").FullName;
        var (client, peer) = (FreePort(), FreePort());
        while (peer == client)
        {
            peer = FreePort();
        }

        EtcdServer server;
        try
        {
            server = new EtcdServer(binary!, dir, client, peer, tls);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }

        try
        {
            await server.RestartAsync().ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>Starts etcd again on the same data directory and ports (after <see cref="Stop"/>), waiting until healthy.</summary>
    /// <returns>A task that completes when etcd answers.</returns>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("etcd is already running");
        }

        var peerUrl = $"http://127.0.0.1:{PeerPort.ToString(CultureInfo.InvariantCulture)}";
        var psi = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
        {
            "--name", "fln-test",
            "--data-dir", DataDirectory,
            "--listen-client-urls", Endpoint,
            "--advertise-client-urls", Endpoint,
            "--listen-peer-urls", peerUrl,
            "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", "fln-test=" + peerUrl,
            "--initial-cluster-state", "new",
            "--logger", "zap",
            "--log-level", "warn",
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
        })
        {
            psi.ArgumentList.Add(a);
        }

        if (_tls is not null)
        {
            foreach (var a in new[] { "--cert-file", _tls.ServerCertFile, "--key-file", _tls.ServerKeyFile, "--trusted-ca-file", _tls.CaFile, "--client-cert-auth" })
            {
                psi.ArgumentList.Add(a);
            }
        }

        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {_binary}");
        p.OutputDataReceived += (_, e) => Append(e.Data);
        p.ErrorDataReceived += (_, e) => Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"etcd exited with {p.ExitCode} during start: {Output()}");
            }

            try
            {
                var health = await Http.GetStringAsync(Endpoint + "/health").ConfigureAwait(false);
                if (health.Contains("\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"etcd did not become healthy on {Endpoint} within 30 s: {Output()}");
    }

    /// <summary>Kills the etcd process (SIGKILL, by PID), as a crash or power loss of the store would.</summary>
    public void Stop()
    {
        if (_process is not { } p)
        {
            return;
        }

        try
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        p.Dispose();
        _process = null;
    }

    /// <summary>Writes a key with raw bytes through etcd's JSON gateway (independent of the client under test).</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The exact value bytes.</param>
    /// <param name="leaseId">An etcd lease to attach, or 0 for none.</param>
    /// <returns>The revision of the put.</returns>
    public async Task<long> PutRawAsync(string key, byte[] value, long leaseId = 0)
    {
        var body = new Dictionary<string, object>
        {
            ["key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)),
            ["value"] = Convert.ToBase64String(value),
        };
        if (leaseId != 0)
        {
            body["lease"] = leaseId.ToString(CultureInfo.InvariantCulture);
        }

        var doc = await PostAsync("/v3/kv/put", body).ConfigureAwait(false);
        return Revision(doc);
    }

    /// <summary>Reads a key's raw value, its etcd lease id and its mod revision, or null when absent.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, lease and revision, or null.</returns>
    public async Task<(byte[] Value, long LeaseId, long ModRevision)?> GetRawAsync(string key)
    {
        var doc = await PostAsync("/v3/kv/range", new Dictionary<string, object> { ["key"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)) }).ConfigureAwait(false);
        if (!doc.TryGetProperty("kvs", out var kvs) || kvs.GetArrayLength() == 0)
        {
            return null;
        }

        var kv = kvs[0];
        var value = kv.TryGetProperty("value", out var v) ? Convert.FromBase64String(v.GetString()!) : [];
        var lease = kv.TryGetProperty("lease", out var l) ? long.Parse(l.GetString()!, CultureInfo.InvariantCulture) : 0;
        var mod = kv.TryGetProperty("mod_revision", out var m) ? long.Parse(m.GetString()!, CultureInfo.InvariantCulture) : 0;
        return (value, lease, mod);
    }

    /// <summary>Lists the keys under a prefix.</summary>
    /// <param name="prefix">The key prefix.</param>
    /// <returns>The keys.</returns>
    public async Task<IReadOnlyList<string>> KeysAsync(string prefix)
    {
        var start = Encoding.UTF8.GetBytes(prefix);
        var end = (byte[])start.Clone();
        end[^1]++;
        var doc = await PostAsync("/v3/kv/range", new Dictionary<string, object>
        {
            ["key"] = Convert.ToBase64String(start),
            ["range_end"] = Convert.ToBase64String(end),
            ["keys_only"] = true,
        }).ConfigureAwait(false);
        return doc.TryGetProperty("kvs", out var kvs)
            ? kvs.EnumerateArray().Select(kv => Encoding.UTF8.GetString(Convert.FromBase64String(kv.GetProperty("key").GetString()!))).ToList()
            : [];
    }

    /// <summary>Grants an etcd lease.</summary>
    /// <param name="ttlSeconds">Its time to live.</param>
    /// <returns>The lease id.</returns>
    public async Task<long> GrantAsync(long ttlSeconds)
    {
        var doc = await PostAsync("/v3/lease/grant", new Dictionary<string, object> { ["TTL"] = ttlSeconds.ToString(CultureInfo.InvariantCulture) }).ConfigureAwait(false);
        return long.Parse(doc.GetProperty("ID").GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>Lists the ids of every live etcd lease.</summary>
    /// <returns>The lease ids.</returns>
    public async Task<IReadOnlyList<long>> LeasesAsync()
    {
        var doc = await PostAsync("/v3/lease/leases", new Dictionary<string, object>()).ConfigureAwait(false);
        return doc.TryGetProperty("leases", out var ls)
            ? ls.EnumerateArray().Select(l => long.Parse(l.GetProperty("ID").GetString()!, CultureInfo.InvariantCulture)).ToList()
            : [];
    }

    /// <summary>The TTL an etcd lease was granted with, in seconds (-1 when the lease does not exist).</summary>
    /// <param name="leaseId">The lease id.</param>
    /// <returns>The granted TTL.</returns>
    public async Task<long> GrantedTtlAsync(long leaseId)
    {
        var doc = await PostAsync("/v3/lease/timetolive", new Dictionary<string, object> { ["ID"] = leaseId.ToString(CultureInfo.InvariantCulture) }).ConfigureAwait(false);
        return doc.TryGetProperty("grantedTTL", out var t) ? long.Parse(t.GetString()!, CultureInfo.InvariantCulture) : -1;
    }

    /// <summary>The current store revision.</summary>
    /// <returns>The revision.</returns>
    public async Task<long> RevisionAsync()
    {
        var doc = await PostAsync("/v3/kv/range", new Dictionary<string, object> { ["key"] = Convert.ToBase64String("\0"u8.ToArray()) }).ConfigureAwait(false);
        return Revision(doc);
    }

    /// <summary>Compacts the key history up to <paramref name="revision"/> (default: the current revision).</summary>
    /// <param name="revision">The revision, or null for the current one.</param>
    /// <returns>The compacted revision.</returns>
    public async Task<long> CompactAsync(long? revision = null)
    {
        var rev = revision ?? await RevisionAsync().ConfigureAwait(false);
        await PostAsync("/v3/kv/compaction", new Dictionary<string, object> { ["revision"] = rev.ToString(CultureInfo.InvariantCulture), ["physical"] = true }).ConfigureAwait(false);
        return rev;
    }

    /// <summary>What etcd printed (warnings and errors), for failure messages.</summary>
    /// <returns>The captured output.</returns>
    public string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Stop();
        Http.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return ValueTask.CompletedTask;
    }

    private async Task<JsonElement> PostAsync(string path, Dictionary<string, object> body)
    {
        using var resp = await Http.PostAsJsonAsync(Endpoint + path, body, TestKitJson.Default.DictionaryStringObject).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"etcd {path} failed with {(int)resp.StatusCode}: {text}");
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    private static long Revision(JsonElement doc) =>
        long.Parse(doc.GetProperty("header").GetProperty("revision").GetString()!, CultureInfo.InvariantCulture);

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>PEM files for an etcd that serves TLS and requires client certificates.</summary>
/// <param name="CaFile">The CA certificate.</param>
/// <param name="ServerCertFile">etcd's certificate (SAN IP 127.0.0.1).</param>
/// <param name="ServerKeyFile">etcd's key.</param>
/// <param name="ClientCertFile">A client certificate signed by the CA.</param>
/// <param name="ClientKeyFile">Its key.</param>
public sealed record EtcdTlsFiles(string CaFile, string ServerCertFile, string ServerKeyFile, string ClientCertFile, string ClientKeyFile)
{
    /// <summary>Creates a throw-away CA, a server certificate for 127.0.0.1 and a client certificate in <paramref name="directory"/>.</summary>
    /// <param name="directory">Where to write the PEM files.</param>
    /// <returns>The file paths.</returns>
    public static EtcdTlsFiles Create(string directory)
    {
        using var caKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var caReq = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=fln-test-ca", caKey, System.Security.Cryptography.HashAlgorithmName.SHA256);
        caReq.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        caReq.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509KeyUsageExtension(System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.KeyCertSign | System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.CrlSign, true));
        using var ca = caReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(30));

        string Issue(string name, bool server)
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var req = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=" + name, key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension(
                server
                    ? [new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1"), new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")] // etcd's gateway dials etcd with the server certificate
                    : [new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")],
                false));
            using var cert = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7), System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
            var certFile = System.IO.Path.Combine(directory, name + ".pem");
            File.WriteAllText(certFile, cert.ExportCertificatePem());
            File.WriteAllText(System.IO.Path.Combine(directory, name + "-key.pem"), key.ExportPkcs8PrivateKeyPem());
            return certFile;
        }

        var caFile = System.IO.Path.Combine(directory, "ca.pem");
        File.WriteAllText(caFile, ca.ExportCertificatePem());
        Issue("server", server: true);
        Issue("client", server: false);
        return new EtcdTlsFiles(
            caFile,
            System.IO.Path.Combine(directory, "server.pem"),
            System.IO.Path.Combine(directory, "server-key.pem"),
            System.IO.Path.Combine(directory, "client.pem"),
            System.IO.Path.Combine(directory, "client-key.pem"));
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, object>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(bool))]
[System.Text.Json.Serialization.JsonSerializable(typeof(long))]
internal sealed partial class TestKitJson : System.Text.Json.Serialization.JsonSerializerContext;
