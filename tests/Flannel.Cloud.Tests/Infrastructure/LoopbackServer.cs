using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Flannel.Cloud.Tests.Infrastructure;

/// <summary>One HTTP request as a fake received it.</summary>
public sealed record RecordedRequest(string Method, string Path, string RawQuery, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : null;
}

/// <summary>What a fake answers.</summary>
public sealed record FakeResponse(int Status, string Body, string ContentType = "application/json", IReadOnlyDictionary<string, string>? Headers = null)
{
    public static FakeResponse Text(string body, int status = 200) => new(status, body, "text/plain");
}

/// <summary>
/// An HTTP server on 127.0.0.1 and a free port (HttpListener), handing every request to a synchronous handler and
/// recording it. Used for every cloud fake: the SDKs and clients talk real HTTP to it.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<RecordedRequest, FakeResponse> _handler;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    private LoopbackServer(HttpListener listener, int port, Func<RecordedRequest, FakeResponse> handler)
    {
        _listener = listener;
        _handler = handler;
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _loop = Task.Run(AcceptLoopAsync);
    }

    public Uri BaseUri { get; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public static LoopbackServer Start(Func<RecordedRequest, FakeResponse> handler)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return new LoopbackServer(listener, port, handler);
            }
            catch (HttpListenerException) when (attempt < 20)
            {
                listener.Close();
            }
        }
    }

    /// <summary>A loopback URL nobody listens on (for "unreachable" scenarios).</summary>
    public static Uri ClosedPortUri() => new($"http://127.0.0.1:{FreePort()}/");

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => Serve(context));
        }
    }

    private void Serve(HttpListenerContext context)
    {
        FakeResponse response;
        try
        {
            string body;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                body = reader.ReadToEnd();
            }

            var headers = new Dictionary<string, string>();
            foreach (var key in context.Request.Headers.AllKeys)
            {
                if (key is not null)
                {
                    headers[key.ToLowerInvariant()] = context.Request.Headers[key] ?? string.Empty;
                }
            }

            var raw = context.Request.RawUrl ?? "/";
            var q = raw.IndexOf('?');
            var request = new RecordedRequest(context.Request.HttpMethod, q < 0 ? raw : raw[..q], q < 0 ? string.Empty : raw[(q + 1)..], headers, body);
            Requests.Enqueue(request);
            response = _handler(request);
        }
        catch (Exception ex)
        {
            response = FakeResponse.Text("fake failed: " + ex, 599);
        }

        try
        {
            context.Response.StatusCode = response.Status;
            context.Response.ContentType = response.ContentType;
            if (response.Headers is not null)
            {
                foreach (var (k, v) in response.Headers)
                {
                    context.Response.Headers[k] = v;
                }
            }

            var bytes = Encoding.UTF8.GetBytes(response.Body);
            context.Response.ContentLength64 = bytes.Length;
            context.Response.OutputStream.Write(bytes);
            context.Response.Close();
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (HttpListenerException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }

        _stop.Dispose();
    }
}
