using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Flanneld;

/// <summary>
/// A minimal HTTP/1.1 server for /healthz, /readyz and /metrics (flanneld's health endpoints plus Prometheus
/// metrics). Written on sockets directly so the Native AOT daemon needs no web stack.
/// </summary>
internal sealed class HealthServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<bool> _ready;
    private readonly Func<string> _metrics;
    private readonly CancellationTokenSource _cts = new();
    private Task? _loop;

    public HealthServer(IPAddress address, int port, Func<bool> ready, Func<string> metrics)
    {
        _listener = new TcpListener(address, port);
        _ready = ready;
        _metrics = metrics;
    }

    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint;

    public void Start()
    {
        _listener.Start();
        _loop = AcceptLoopAsync(_cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_loop is not null)
        {
            try
            {
                await _loop.WaitAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or TimeoutException or SocketException or ObjectDisposedException)
            {
            }
        }

        _cts.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client, ct);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                var stream = client.GetStream();
                var buffer = new byte[4096];
                var used = 0;
                while (used < buffer.Length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(used), timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    used += n;
                    if (buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8) >= 0)
                    {
                        break;
                    }
                }

                var head = Encoding.ASCII.GetString(buffer, 0, used);
                var firstLine = head.Split("\r\n", 2)[0].Split(' ');
                var (status, body, type) = firstLine.Length >= 2 && firstLine[0] is "GET" or "HEAD"
                    ? Route(firstLine[1])
                    : (405, "method not allowed\n", "text/plain");
                var payload = Encoding.UTF8.GetBytes(body);
                var reason = status switch { 200 => "OK", 404 => "Not Found", 405 => "Method Not Allowed", _ => "Service Unavailable" };
                var header = $"HTTP/1.1 {status} {reason}\r\nContent-Type: {type}\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header), timeout.Token).ConfigureAwait(false);
                if (firstLine[0] != "HEAD")
                {
                    await stream.WriteAsync(payload, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private (int Status, string Body, string Type) Route(string target)
    {
        var path = target.Split('?', 2)[0];
        return path switch
        {
            "/healthz" => (200, "flanneld is running", "text/plain; charset=utf-8"),
            "/readyz" => _ready() ? (200, "flanneld is ready", "text/plain; charset=utf-8") : (503, "flanneld is not ready yet", "text/plain; charset=utf-8"),
            "/metrics" => (200, _metrics(), "text/plain; version=0.0.4; charset=utf-8"),
            _ => (404, "404 page not found\n", "text/plain; charset=utf-8"),
        };
    }
}
