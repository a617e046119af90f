using System.Collections;
using System.Reflection;
using Flannel;
using Flannel.Etcd;
using Flannel.Node;
using Flannel.Sqlite;
using Flannel.TrafficRules;
using Flanneld;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// flanneld — the Flannel.Net sample daemon. Everything below is public Flannel.Net API; the only logic here is
// mapping flanneld's flags to options, choosing the store, and turning failures into one line and an exit code.
var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
    .ToDictionary(e => (string)e.Key, e => e.Value as string ?? string.Empty, StringComparer.Ordinal);

if (args.Length > 0 && args[0] == "lab")
{
    return await Lab.RunAsync(args[1..], environment).ConfigureAwait(false);
}

var cleanup = args.Length > 0 && args[0] == "cleanup";
var rest = cleanup ? args[1..] : args;

// --version is honoured before anything else, including the environment (as flanneld does).
if (rest.Any(a => a is "-version" or "--version" or "-version=true" or "--version=true"))
{
    Console.Error.WriteLine(Version());
    return 0;
}

if (rest.Any(a => a is "-h" or "--h" or "-help" or "--help"))
{
    Console.Error.Write(new GoFlags(DaemonFlags.All).Usage());
    return 0;
}

var flags = new GoFlags(DaemonFlags.All);
DaemonSettings settings;
try
{
    flags.Parse(rest, environment);
    if (flags.Rest.Count > 0)
    {
        throw new FlagException($"unexpected argument \"{flags.Rest[0]}\" (flags only; see flanneld --help)");
    }

    settings = DaemonSettings.From(flags, environment);
}
catch (FlagException ex)
{
    Console.Error.WriteLine($"flanneld: {ex.Message}");
    if (ex.ExitCode == 2)
    {
        Console.Error.WriteLine("Run 'flanneld --help' for the flags.");
    }

    return ex.ExitCode;
}

using var shutdown = new CancellationTokenSource();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; shutdown.Cancel(); });
using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; shutdown.Cancel(); });

try
{
    return cleanup
        ? await Daemon.CleanupAsync(settings, shutdown.Token).ConfigureAwait(false)
        : await Daemon.RunAsync(settings, shutdown.Token).ConfigureAwait(false);
}
catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
{
    return 0;
}
catch (FlannelException ex)
{
    Console.Error.WriteLine($"flanneld: {Daemon.OperatorMessage(ex)}");
    return 1;
}
catch (UnauthorizedAccessException ex)
{
    Console.Error.WriteLine($"flanneld: permission denied ({ex.Message}); flanneld needs root or CAP_NET_ADMIN and CAP_NET_RAW");
    return 1;
}
catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException or ArgumentException or FormatException)
{
    // Not an operator error we know by name, still one line and exit 1 (the detail is in the message).
    Console.Error.WriteLine($"flanneld: {ex.GetType().Name}: {ex.Message}");
    return 1;
}

static string Version() =>
    "flanneld (Flannel.Net) " + (typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0");
