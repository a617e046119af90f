// Flannel.Udp.Bench: the Flannel.Udp data path as a stand-alone forwarder with the command line of the anchor's
// C forwarder (anchors/c/tunudp.c), so anchors/dp.sh can run both in the same table:
//
//   Flannel.Udp.Bench -t TUNNAME [-l LOCAL_IP] [-p PORT] [-b BUDGET] [-s SOCKBUF] -r SUBNET/LEN=PEER_IP [-r ...]
//                     [--no-offload]
//
// The TUN device must exist in the current namespace (dp.sh creates and configures it) or is created.
// Counters go to stderr on SIGUSR1, SIGTERM and SIGINT.
using System.Net;
using System.Runtime.InteropServices;
using Flannel.Udp;
using Microsoft.Extensions.Logging.Abstractions;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

string? tunName = null;
var local = IPAddress.Any;
int port = 8285, budget = 64, sockBuf = new UdpBackendOptions().SocketBufferSize; // the backend's default unless -s
bool offload = true;
var routes = new List<(IPNetwork Subnet, IPAddress Peer)>();
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "-t": tunName = Next(); break;
            case "-l": local = IPAddress.Parse(Next()); break;
            case "-p": port = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "-b": budget = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "-s": sockBuf = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--no-offload": offload = false; break;
            case "-r":
                var spec = Next();
                int eq = spec.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    throw new ArgumentException($"bad route {spec}: want SUBNET/LEN=PEER_IP");
                }

                routes.Add((IPNetwork.Parse(spec[..eq]), IPAddress.Parse(spec[(eq + 1)..])));
                break;
            default: throw new ArgumentException($"unknown argument {args[i]}");
        }
    }

    if (tunName is null || routes.Count == 0)
    {
        throw new ArgumentException("need -t TUNNAME and at least one -r SUBNET/LEN=PEER_IP");
    }
}
catch (Exception ex) when (ex is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"Flannel.Udp.Bench: {ex.Message}");
    Console.Error.WriteLine("usage: Flannel.Udp.Bench -t TUNNAME [-l LOCAL_IP] [-p PORT] [-b BUDGET] [-s SOCKBUF] -r SUBNET/LEN=PEER_IP [-r ...] [--no-offload]");
    return 2;
}

using var tun = TunDevice.Open(tunName, offload);
using var socket = UdpTunnelSocket.Open(local, port, offload, sockBuf);
var dataPath = new UdpDataPath(tun, socket, new DataPathOptions { TunAddress = PeerRoute.ToHost(local), Batch = Math.Max(1, budget) }, NullLogger.Instance);
dataPath.UpdatePeers(PeerTable.Create(routes.Select(r => PeerRoute.Create(r.Subnet, r.Peer, (ushort)port))));
Console.Error.WriteLine($"Flannel.Udp.Bench: {tun.Name} vnet_hdr={tun.VnetHeader} socket {socket.LocalEndPoint} gso={socket.Gso} gro={socket.Gro} routes={routes.Count}");
dataPath.Start();

void Dump() => Console.Error.WriteLine($"Flannel.Udp.Bench: {dataPath.Counters} gso_active={dataPath.GsoActive}");
var done = new ManualResetEventSlim();
using var usr1 = PosixSignalRegistration.Create((PosixSignal)10, c => { c.Cancel = true; Dump(); });
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Set(); });
using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Set(); });
done.Wait();
dataPath.Dispose();
Dump();
return 0;
