using System.Globalization;

namespace Flanneld.Labs;

/// <summary>
/// The name of one lab (<c>--name</c>) and every name derived from it: namespaces <c>NAME-ul</c>, <c>NAME-hI</c>,
/// <c>NAME-pI</c> and the lab directory. The default name <c>flab</c> gives the names the lab always had
/// (<c>flab-h1</c>, <c>/run/flannel-lab</c>). A lab owns exactly the names of that shape, never every name that
/// merely starts with <c>NAME-</c>, so lab <c>a</c> does not touch lab <c>a-b</c> or anyone's namespace <c>a-test</c>.
/// </summary>
internal sealed class LabName
{
    /// <summary>The name used without <c>--name</c>.</summary>
    public const string DefaultValue = "flab";

    /// <summary>
    /// The longest name: NAME-h50 and NAME-p50 (the longest derived names, 4 characters more) stay within the
    /// kernel's interface-name limit (IFNAMSIZ, 15 characters plus the terminating NUL).
    /// </summary>
    public const int MaxLength = 11;

    private LabName(string value) => Value = value;

    public static LabName Default { get; } = new(DefaultValue);

    public string Value { get; }

    public bool IsDefault => Value == DefaultValue;

    public string Prefix => Value + "-";

    public string Underlay => Prefix + "ul";

    public string Host(int i) => Prefix + "h" + i.ToString(CultureInfo.InvariantCulture);

    public string Pod(int i) => Prefix + "p" + i.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The lab's directory: <paramref name="baseDirectory"/> itself for the default lab (as always), a sibling
    /// <c>BASE-NAME</c> for any other, so that removing one lab's directory never touches another's.
    /// </summary>
    public string Directory(string baseDirectory) =>
        IsDefault ? baseDirectory : Path.TrimEndingDirectorySeparator(baseDirectory) + "-" + Value;

    /// <summary>Parses and checks a <c>--name</c> value; the message says which value and why.</summary>
    public static LabName Parse(string value)
    {
        if (value.Length == 0)
        {
            throw new ArgumentException("--name \"\": a lab name cannot be empty");
        }

        if (value.Length > MaxLength)
        {
            throw new ArgumentException($"--name \"{value}\": {value.Length} characters, at most {MaxLength} (the lab derives names like {value}-h50, and those must fit the kernel's 15-character interface-name limit, IFNAMSIZ)");
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new ArgumentException($"--name \"{value}\": character '{c}' is not allowed; use lower-case letters, digits and '-' (the name becomes namespace names under /var/run/netns)");
            }
        }

        if (value[0] == '-' || value[^1] == '-')
        {
            throw new ArgumentException($"--name \"{value}\": must start and end with a letter or digit");
        }

        return value == DefaultValue ? Default : new LabName(value);
    }

    /// <summary>Whether <paramref name="ns"/> is one of this lab's namespaces: NAME-ul, NAME-hI or NAME-pI.</summary>
    public bool OwnsNamespace(string ns) =>
        ns.StartsWith(Prefix, StringComparison.Ordinal) && ns.AsSpan(Prefix.Length) is var rest &&
        (rest.SequenceEqual("ul") || IsHost(rest) || (rest.Length > 1 && rest[0] == 'p' && IsNumber(rest[1..])));

    /// <summary>Whether <paramref name="ns"/> is one of this lab's host namespaces (NAME-hI), as its daemons name them.</summary>
    public bool OwnsHost(string ns) => ns.StartsWith(Prefix, StringComparison.Ordinal) && IsHost(ns.AsSpan(Prefix.Length));

    public override string ToString() => Value;

    private static bool IsHost(ReadOnlySpan<char> rest) => rest.Length > 1 && rest[0] == 'h' && IsNumber(rest[1..]);

    private static bool IsNumber(ReadOnlySpan<char> s) => s.Length is > 0 and <= 3 && !s.ContainsAnyExceptInRange('0', '9');
}
