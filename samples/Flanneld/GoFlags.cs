using System.Globalization;

namespace Flanneld;

/// <summary>The value kinds a flag can hold.</summary>
internal enum FlagKind
{
    String,
    Bool,
    Int,
    List,
}

/// <summary>One flag definition: name, kind, default and help text.</summary>
internal sealed record FlagDefinition(string Name, FlagKind Kind, string Default, string Help);

/// <summary>Thrown for a command line that flanneld cannot accept; the message is the one line to print.</summary>
internal sealed class FlagException(string message, int exitCode = 2) : Exception(message)
{
    /// <summary>2 for command-line syntax (as Go's flag package), 1 for a well-formed value that is not acceptable.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// A command-line parser with Go's <c>flag</c> package syntax, as flanneld uses it: <c>-name</c> and
/// <c>--name</c>, <c>--name=value</c> or <c>--name value</c>, booleans as <c>--name</c> or <c>--name=false</c>,
/// repeatable list flags; unset flags take <c>FLANNELD_&lt;NAME&gt;</c> from the environment.
/// </summary>
internal sealed class GoFlags
{
    private readonly Dictionary<string, FlagDefinition> _defs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _set = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _fromEnv = new(StringComparer.Ordinal);

    public GoFlags(IEnumerable<FlagDefinition> definitions)
    {
        foreach (var d in definitions)
        {
            _defs.Add(d.Name, d);
        }
    }

    public IEnumerable<FlagDefinition> Definitions => _defs.Values;

    /// <summary>The arguments left after the flags (Go stops at the first non-flag argument or "--").</summary>
    public IReadOnlyList<string> Rest { get; private set; } = [];

    /// <summary>Parses the arguments, then fills unset flags from FLANNELD_* variables.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">The environment variables (name → value).</param>
    public void Parse(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var i = 0;
        for (; i < args.Count; i++)
        {
            var a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }

            if (a.Length < 2 || a[0] != '-' || a == "-")
            {
                break;
            }

            var body = a.StartsWith("--", StringComparison.Ordinal) ? a[2..] : a[1..];
            if (body.Length == 0 || body[0] == '-' || body[0] == '=')
            {
                throw new FlagException($"bad flag syntax: {a}");
            }

            string name;
            string? value = null;
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                name = body[..eq];
                value = body[(eq + 1)..];
            }
            else
            {
                name = body;
            }

            if (!_defs.TryGetValue(name, out var def))
            {
                throw new FlagException($"flag provided but not defined: -{name}");
            }

            if (def.Kind == FlagKind.Bool)
            {
                value ??= "true";
            }
            else if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new FlagException($"flag needs an argument: -{name}");
                }

                value = args[++i];

                // Go would take "--iface --ip-masq" as an interface named "--ip-masq"; no value of ours is a flag name.
                if (value.Length > 1 && value[0] == '-' && _defs.ContainsKey(value.TrimStart('-').Split('=')[0]))
                {
                    throw new FlagException($"flag needs an argument: -{name} (the next argument, {value}, is a flag; write -{name}=VALUE)");
                }
            }

            Validate(def, value, $"-{name}");
            if (!_set.TryGetValue(name, out var list))
            {
                _set[name] = list = [];
            }

            if (def.Kind == FlagKind.List)
            {
                list.Add(value);
            }
            else
            {
                list.Clear();
                list.Add(value);
            }
        }

        Rest = args.Skip(i).ToArray();

        foreach (var def in _defs.Values)
        {
            if (_set.ContainsKey(def.Name))
            {
                continue;
            }

            var envName = EnvironmentName(def.Name);
            if (environment.TryGetValue(envName, out var v) && v.Length > 0)
            {
                Validate(def, v, envName);
                _set[def.Name] = [v];
                _fromEnv[def.Name] = envName;
            }
        }
    }

    /// <summary>The environment variable that sets a flag: FLANNELD_ + upper case, dashes to underscores.</summary>
    public static string EnvironmentName(string flag) =>
        "FLANNELD_" + flag.ToUpperInvariant().Replace('-', '_');

    public bool IsSet(string name) => _set.ContainsKey(name);

    public string GetString(string name) =>
        _set.TryGetValue(name, out var v) ? v[^1] : _defs[name].Default;

    public bool GetBool(string name) => ParseBool(GetString(name)) ?? false;

    public int GetInt(string name) => int.Parse(GetString(name), NumberStyles.Integer, CultureInfo.InvariantCulture);

    public IReadOnlyList<string> GetList(string name) =>
        _set.TryGetValue(name, out var v) ? v : (_defs[name].Default.Length == 0 ? [] : [_defs[name].Default]);

    /// <summary>Where a flag's value came from, for error messages: "-name" or the environment variable.</summary>
    public string Source(string name) => _fromEnv.TryGetValue(name, out var env) ? env : "-" + name;

    public string Usage()
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine("Usage: flanneld [flags]            run the agent");
        w.WriteLine("       flanneld cleanup [flags]    remove everything this node created, release its lease");
        w.WriteLine("       flanneld lab up|down ...    a simulated cluster on this machine (see 'flanneld lab --help')");
        w.WriteLine();
        foreach (var d in _defs.Values.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            var kind = d.Kind switch { FlagKind.Int => " int", FlagKind.String => " string", FlagKind.List => " value (repeatable)", _ => string.Empty };
            w.WriteLine($"  -{d.Name}{kind}");
            w.Write($"    \t{d.Help}");
            if (d.Default.Length > 0 && d.Default != "false")
            {
                w.Write($" (default {d.Default})");
            }

            w.WriteLine($" [env {EnvironmentName(d.Name)}]");
        }

        return w.ToString();
    }

    private static bool? ParseBool(string s) => s switch
    {
        "1" or "t" or "T" or "true" or "TRUE" or "True" => true,
        "0" or "f" or "F" or "false" or "FALSE" or "False" => false,
        _ => null,
    };

    private static void Validate(FlagDefinition def, string value, string source)
    {
        switch (def.Kind)
        {
            case FlagKind.Bool when ParseBool(value) is null:
                throw new FlagException($"invalid boolean value \"{value}\" for {source}: use true or false");
            case FlagKind.Int when !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _):
                throw new FlagException($"invalid value \"{value}\" for {source}: not an integer");
        }
    }
}
