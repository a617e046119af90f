using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Flannel.Netlink.Diagnostics;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel.Netlink;

/// <summary>
/// An rtnetlink (NETLINK_ROUTE) client: <c>ip link/addr/route/neigh</c> and <c>bridge fdb</c> for .NET, with batching
/// and a monitor. Requests on one client are serialized (one in flight); open several clients for parallelism.
/// Extended acks and strict checking are always on, so dumps are filtered by the kernel and errors carry its message.
/// </summary>
/// <example>
/// <code>
/// await using var rtnl = RtnetlinkClient.Open();
/// foreach (var r in await rtnl.Routes.ListAsync(ct: ct)) Console.WriteLine($"{r.Destination} via {r.Gateway}");
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public sealed partial class RtnetlinkClient : IAsyncDisposable, IDisposable
{
    internal const int ReceiveBufferSize = 64 * 1024;

    private readonly NetlinkSocket _socket;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly byte[] _send = GC.AllocateArray<byte>(16 * 1024, pinned: true);
    private readonly byte[] _receive = GC.AllocateArray<byte>(ReceiveBufferSize, pinned: true);
    private readonly RtnetlinkClientOptions _options;
    private readonly ILogger _logger;
    private readonly NetlinkMetrics? _metrics;
    private uint _sequence;
    private bool _disposed;

    private RtnetlinkClient(NetlinkSocket socket, RtnetlinkClientOptions options)
    {
        _socket = socket;
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger("Flannel.Netlink") ?? NullLogger.Instance;
        _metrics = NetlinkMetrics.Create(options.MeterFactory);
        _sequence = (uint)Environment.TickCount;
        Links = new RtnetlinkLinks(this);
        Addresses = new RtnetlinkAddresses(this);
        Routes = new RtnetlinkRoutes(this);
        Neighbors = new RtnetlinkNeighbors(this);
        Fdb = new RtnetlinkFdb(this);
    }

    /// <summary>Links (<c>ip link</c>).</summary>
    public RtnetlinkLinks Links { get; }

    /// <summary>Addresses (<c>ip addr</c>).</summary>
    public RtnetlinkAddresses Addresses { get; }

    /// <summary>Routes (<c>ip route</c>).</summary>
    public RtnetlinkRoutes Routes { get; }

    /// <summary>ARP/NDP entries (<c>ip neigh</c>).</summary>
    public RtnetlinkNeighbors Neighbors { get; }

    /// <summary>Bridge forwarding-database entries on vxlan devices (<c>bridge fdb … self</c>).</summary>
    public RtnetlinkFdb Fdb { get; }

    /// <summary>The namespace this client was opened into, or null for the process's namespace.</summary>
    public NetworkNamespace? Namespace => _options.Namespace;

    internal RtnetlinkClientOptions Options => _options;

    internal ILogger Logger => _logger;

    /// <summary>The instruments, or null without a meter factory.</summary>
    internal NetlinkMetrics? Metrics => _metrics;

    /// <summary>Opens a client (and its socket) in the namespace given by the options.</summary>
    /// <param name="options">The options, or null for defaults (the process's namespace).</param>
    /// <returns>The client.</returns>
    public static RtnetlinkClient Open(RtnetlinkClientOptions? options = null)
    {
        options ??= new RtnetlinkClientOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.DumpRetries);
        var socket = NetlinkSocket.Open(options.Namespace, strict: true, options.SocketBufferSize, []);
        var client = new RtnetlinkClient(socket, options);
        Log.ClientOpened(client._logger, socket.PortId, options.Namespace?.Path ?? "(current)");
        return client;
    }

    /// <summary>Opens a client; the same as <see cref="Open"/>, for async call sites.</summary>
    /// <param name="options">The options.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The client.</returns>
    public static ValueTask<RtnetlinkClient> OpenAsync(RtnetlinkClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Open(options));
    }

    /// <summary>Creates a batch: many requests sent in few sendmsg() calls, with a result per request.</summary>
    /// <returns>An empty batch bound to this client.</returns>
    public RtnetlinkBatch CreateBatch() => new(this);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _socket.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal delegate void Encoder<T>(ref NetlinkWriter writer, T state);

    internal delegate bool Decoder<T>(ushort type, ReadOnlySpan<byte> payload, out T item);

    internal uint NextSequences(int count)
    {
        var start = _sequence + 1;
        _sequence += (uint)count;
        return start;
    }

    internal async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_disposed)
        {
            _gate.Release();
            ObjectDisposedException.ThrowIf(true, this);
        }
    }

    internal void Exit() => _gate.Release();

    internal NetlinkSocket Socket => _socket;

    internal byte[] ReceiveBuffer => _receive;

    /// <summary>
    /// Sends one request with NLM_F_ACK and waits for its ack. Returns false when <paramref name="missingIsFalse"/> and the
    /// object did not exist. Fast path: the kernel handles an rtnetlink request inside send(), so the ack is normally
    /// queued when send() returns and the whole call completes synchronously, without a state machine or allocation.
    /// </summary>
    internal ValueTask<bool> RequestAckAsync<T>(ushort type, ushort flags, T state, Encoder<T> encode, bool missingIsFalse, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_gate.Wait(0, CancellationToken.None))
        {
            return RequestAckSlowAsync(type, flags, state, encode, missingIsFalse, cancellationToken);
        }

        var release = true;
        _metrics?.Request(type);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var seq = NextSequences(1);
            var len = Encode(type, (ushort)(flags | Nl.NLM_F_REQUEST | Nl.NLM_F_ACK), seq, state, encode);
            var n = _socket.SendAndTryReceive(_send.AsSpan(0, len), _receive);
            while (true)
            {
                if (n < 0)
                {
                    release = false; // handed over to the continuation
                    return ContinueAckAsync(seq, type, missingIsFalse, cancellationToken);
                }

                var r = ScanAck(_receive.AsSpan(0, n), seq, type, missingIsFalse);
                if (r != 0)
                {
                    return new ValueTask<bool>(r > 0);
                }

                n = _socket.TryReceive(_receive);
            }
        }
        catch (NetlinkException) when (_metrics?.Failed(type) ?? false)
        {
            throw; // never reached: the filter only counts
        }
        finally
        {
            if (release)
            {
                Exit();
            }
        }
    }

    private async ValueTask<bool> RequestAckSlowAsync<T>(ushort type, ushort flags, T state, Encoder<T> encode, bool missingIsFalse, CancellationToken cancellationToken)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        _metrics?.Request(type);
        uint seq;
        try
        {
            seq = NextSequences(1);
            var len = Encode(type, (ushort)(flags | Nl.NLM_F_REQUEST | Nl.NLM_F_ACK), seq, state, encode);
            _socket.Send(_send.AsSpan(0, len));
        }
        catch
        {
            Exit();
            throw;
        }

        return await ContinueAckAsync(seq, type, missingIsFalse, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives until the ack of <paramref name="seq"/>; releases the gate at the end.</summary>
    private async ValueTask<bool> ContinueAckAsync(uint seq, ushort type, bool missingIsFalse, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(_receive, cancellationToken).ConfigureAwait(false);
                var r = ScanAck(_receive.AsSpan(0, n), seq, type, missingIsFalse);
                if (r != 0)
                {
                    return r > 0;
                }
            }
        }
        catch (NetlinkException) when (_metrics?.Failed(type) ?? false)
        {
            throw; // never reached: the filter only counts
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Turns a request's ValueTask&lt;bool&gt; into a ValueTask without allocating when it already completed.</summary>
    internal static ValueTask Void(ValueTask<bool> pending) =>
        pending.IsCompletedSuccessfully ? default : new ValueTask(pending.AsTask());

    /// <summary>Sends a get request (no dump) and decodes the single reply; returns default when the kernel says the object is missing.</summary>
    internal async ValueTask<TItem?> GetAsync<TState, TItem>(ushort type, TState state, Encoder<TState> encode, Decoder<TItem> decode, Errno[] missing, CancellationToken cancellationToken)
        where TItem : class
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        _metrics?.Request(type);
        try
        {
            var seq = NextSequences(1);
            var len = Encode(type, Nl.NLM_F_REQUEST, seq, state, encode);
            _socket.Send(_send.AsSpan(0, len));
            while (true)
            {
                var n = await _socket.ReceiveAsync(_receive, cancellationToken).ConfigureAwait(false);
                if (ScanGet(_receive.AsSpan(0, n), seq, type, decode, missing, out var item))
                {
                    return item;
                }
            }
        }
        catch (NetlinkException) when (_metrics?.Failed(type) ?? false)
        {
            throw; // never reached: the filter only counts
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Runs a dump to completion, retrying when it was interrupted, and returns the decoded items.</summary>
    internal async ValueTask<List<TItem>> DumpAsync<TState, TItem>(ushort type, TState state, Encoder<TState> encode, Decoder<TItem> decode, CancellationToken cancellationToken)
    {
        var sink = new ListSink<TItem>(decode);
        await DumpIntoAsync(type, state, encode, sink, cancellationToken).ConfigureAwait(false);
        return sink.Items;
    }

    /// <summary>
    /// Runs a dump to completion, handing every message to <paramref name="sink"/> as it is read from the receive buffer;
    /// when the kernel interrupts the dump, the sink is told to start over and the dump is retried.
    /// </summary>
    internal async ValueTask DumpIntoAsync<TState, TSink>(ushort type, TState state, Encoder<TState> encode, TSink sink, CancellationToken cancellationToken)
        where TSink : IDumpSink
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                sink.Begin();
                _metrics?.Request(type);
                var seq = NextSequences(1);
                var len = Encode(type, Nl.NLM_F_REQUEST | Nl.NLM_F_DUMP, seq, state, encode);
                _socket.Send(_send.AsSpan(0, len));
                var interrupted = false;
                var n = 0;
                try
                {
                    while (true)
                    {
                        n = 0;
                        cancellationToken.ThrowIfCancellationRequested(); // a receive with data waiting does not look
                        n = await _socket.ReceiveAsync(_receive, cancellationToken).ConfigureAwait(false);
                        if (ScanDump(_receive.AsSpan(0, n), seq, type, sink, ref interrupted))
                        {
                            break;
                        }
                    }
                }
                catch (Exception ex) when (ex is not NetlinkException)
                {
                    // Abandoned part-way (cancelled, a malformed entry, the visitor threw): the kernel's dump is still
                    // running on this socket and would refuse the next one (EBUSY). Read it to its end first — unless
                    // the datagram being scanned already held its end (the kernel appends NLMSG_DONE to the last one).
                    if (!EndedIn(_receive.AsSpan(0, n), seq))
                    {
                        await DrainDumpAsync(type, seq).ConfigureAwait(false);
                    }
                    throw;
                }

                if (!interrupted)
                {
                    _metrics?.Dumped(type);
                    return;
                }

                _metrics?.DumpRetried(type);

                if (attempt > _options.DumpRetries)
                {
                    throw new NetlinkDumpInterruptedException(Nl.TypeName(type), attempt);
                }

                var operation = Nl.TypeName(type);
                Log.DumpInterrupted(_logger, operation, attempt);
            }
        }
        catch (NetlinkException) when (_metrics?.Failed(type) ?? false)
        {
            throw; // never reached: the filter only counts
        }
        finally
        {
            Exit();
        }
    }

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Reads and drops the rest of an abandoned dump, up to its NLMSG_DONE (bounded in time).</summary>
    private async ValueTask DrainDumpAsync(ushort type, uint seq)
    {
        using var timeout = new CancellationTokenSource(DrainTimeout);
        try
        {
            while (true)
            {
                var n = await _socket.ReceiveAsync(_receive, timeout.Token).ConfigureAwait(false);
                if (EndsDump(_receive.AsSpan(0, n), seq))
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or NetlinkException or IOException or System.Net.Sockets.SocketException)
        {
            Log.DumpDrainFailed(_logger, Nl.TypeName(type), ex.Message);
        }
    }

    /// <summary>Like <see cref="EndsDump"/>, but false (keep draining) when the datagram's framing is itself broken.</summary>
    private static bool EndedIn(ReadOnlySpan<byte> datagram, uint seq)
    {
        try
        {
            return EndsDump(datagram, seq);
        }
        catch (NetlinkProtocolException)
        {
            return false;
        }
    }

    /// <summary>Whether a datagram holds the message that ends dump <paramref name="seq"/> (NLMSG_DONE or NLMSG_ERROR).</summary>
    internal static bool EndsDump(ReadOnlySpan<byte> datagram, uint seq)
    {
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            if (m.Header.Sequence == seq && m.Header.Type is Nl.NLMSG_DONE or Nl.NLMSG_ERROR)
            {
                return true;
            }
        }

        return false;
    }

    private int Encode<T>(ushort type, ushort flags, uint seq, T state, Encoder<T> encode)
    {
        var w = new NetlinkWriter(_send);
        var start = w.BeginMessage(type, flags, seq);
        encode(ref w, state);
        w.EndMessage(start);
        return w.Position;
    }

    /// <summary>1 = acked, -1 = missing (false), 0 = not yet.</summary>
    internal static int ScanAck(ReadOnlySpan<byte> datagram, uint seq, ushort requestType, bool missingIsFalse)
    {
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            if (m.Header.Sequence != seq || m.Header.Type != Nl.NLMSG_ERROR)
            {
                continue;
            }

            var errno = ReadErrno(m.Payload);
            if (errno == 0)
            {
                return 1;
            }

            if (missingIsFalse && Nl.IsMissing((Errno)errno))
            {
                return -1;
            }

            throw CreateException(m, requestType);
        }

        return 0;
    }

    private static bool ScanGet<TItem>(ReadOnlySpan<byte> datagram, uint seq, ushort requestType, Decoder<TItem> decode, Errno[] missing, out TItem? item)
        where TItem : class
    {
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            if (m.Header.Sequence != seq)
            {
                continue;
            }

            if (m.Header.Type == Nl.NLMSG_ERROR)
            {
                var errno = (Errno)ReadErrno(m.Payload);
                if (errno == Errno.None)
                {
                    continue;
                }

                if (Array.IndexOf(missing, errno) >= 0)
                {
                    item = null;
                    return true;
                }

                throw CreateException(m, requestType);
            }

            if (decode(m.Header.Type, m.Payload, out var decoded))
            {
                item = decoded;
                return true;
            }

            throw new NetlinkProtocolException($"{Nl.TypeName(requestType)} reply of type {Nl.TypeName(m.Header.Type)} could not be decoded");
        }

        item = null;
        return false;
    }

    internal static bool ScanDump<TSink>(ReadOnlySpan<byte> datagram, uint seq, ushort requestType, TSink sink, ref bool interrupted)
        where TSink : IDumpSink
    {
        var reader = new NetlinkMessageReader(datagram);
        while (reader.TryRead(out var m))
        {
            if (m.Header.Sequence != seq)
            {
                continue;
            }

            if ((m.Header.Flags & Nl.NLM_F_DUMP_INTR) != 0)
            {
                interrupted = true;
            }

            switch (m.Header.Type)
            {
                case Nl.NLMSG_DONE:
                    if (m.Payload.Length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(m.Payload) < 0)
                    {
                        throw CreateException(m, requestType);
                    }

                    return true;
                case Nl.NLMSG_ERROR:
                    if (ReadErrno(m.Payload) == 0)
                    {
                        return true;
                    }

                    throw CreateException(m, requestType);
                case Nl.NLMSG_NOOP:
                    break;
                case Nl.NLMSG_OVERRUN:
                    throw new NetlinkProtocolException($"{Nl.TypeName(requestType)} dump: NLMSG_OVERRUN");
                default:
                    sink.Accept(m.Header.Type, m.Payload);
                    break;
            }
        }

        return false;
    }

    internal static int ReadErrno(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 4)
        {
            throw new NetlinkProtocolException($"truncated NLMSG_ERROR: {payload.Length} bytes, expected at least 4");
        }

        return -BinaryPrimitives.ReadInt32LittleEndian(payload);
    }

    /// <summary>Builds the exception for an NLMSG_ERROR (or a failed NLMSG_DONE), reading the extended-ack TLVs.</summary>
    internal static NetlinkException CreateException(NetlinkMessage m, ushort requestType)
    {
        var errno = (Errno)ReadErrno(m.Payload);
        ParseExtendedAck(m, out var msg, out var offset);
        return new NetlinkException(Nl.TypeName(requestType), errno, msg, offset, m.Header.Sequence);
    }

    internal static void ParseExtendedAck(NetlinkMessage m, out string? message, out int? offset)
    {
        message = null;
        offset = null;
        if ((m.Header.Flags & Nl.NLM_F_ACK_TLVS) == 0)
        {
            return;
        }

        var p = m.Payload;
        int tlvStart;
        if (m.Header.Type == Nl.NLMSG_DONE)
        {
            tlvStart = 4;
        }
        else
        {
            if (p.Length < 4 + Nl.HeaderSize)
            {
                throw new NetlinkProtocolException($"NLMSG_ERROR with ack TLVs is {p.Length} bytes, shorter than its embedded header");
            }

            var origLen = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            tlvStart = (m.Header.Flags & Nl.NLM_F_CAPPED) != 0 ? 4 + Nl.HeaderSize : 4 + Nl.Align((int)Math.Min(origLen, (uint)p.Length));
        }

        if (tlvStart > p.Length)
        {
            throw new NetlinkProtocolException($"NLMSG_ERROR ack TLVs start at {tlvStart}, past its {p.Length}-byte payload");
        }

        var r = new AttributeReader(p[tlvStart..]);
        while (r.TryRead(out var t, out var v))
        {
            if (t == Nl.NLMSGERR_ATTR_MSG)
            {
                message = Attr.String(v);
            }
            else if (t == Nl.NLMSGERR_ATTR_OFFS)
            {
                offset = (int)Attr.U32(v, "NLMSGERR_ATTR_OFFS");
            }
        }
    }
}
