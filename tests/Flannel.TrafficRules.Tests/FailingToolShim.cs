namespace Flannel.TrafficRules.Tests;

/// <summary>
/// Puts a shell script in front of the real tool that applies rules (iptables-restore/ip6tables-restore, or
/// nft -f) which fails with "injected failure" while the shim is failing; the read-only probes and everything else
/// run the real tools. <see cref="Heal"/> lets the applying tool work again.
/// </summary>
internal sealed class FailingToolShim : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("fln-shim-");
    private readonly string _flag;

    public FailingToolShim()
    {
        _flag = Path.Combine(_dir.FullName, "fail");
        File.WriteAllText(_flag, string.Empty);
    }

    /// <summary>The options with the applying tool of <paramref name="engine"/> replaced by the shim.</summary>
    public TrafficRuleOptions Apply(TrafficRuleOptions options, TrafficRuleEngine engine) => engine == TrafficRuleEngine.Iptables
        ? options with { IptablesRestorePath = Shim("iptables-restore", "true"), Ip6tablesRestorePath = Shim("ip6tables-restore", "true") }
        : options with { NftPath = Shim("nft", "[ \"$1\" = -f ]") };

    /// <summary>From now on the shim passes every call to the real tool.</summary>
    public void Heal() => File.Delete(_flag);

    public void Dispose() => _dir.Delete(recursive: true);

    private string Shim(string tool, string failWhen)
    {
        var path = Path.Combine(_dir.FullName, tool);
        File.WriteAllText(path, $"#!/bin/sh\nif [ -e '{_flag}' ] && {failWhen}; then echo 'injected failure' >&2; exit 1; fi\nexec {tool} \"$@\"\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
