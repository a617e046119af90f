using System.Diagnostics;

namespace Flanneld.Labs;

/// <summary>
/// Step-by-step progress on stderr: on a terminal a live status line per step that turns into ✓/✗ with the
/// step's duration; otherwise one plain line per finished step (logs and CI stay readable).
/// </summary>
internal sealed class LabProgress
{
    private readonly TextWriter _out;
    private readonly bool _live;
    private string? _step;
    private long _started;

    public LabProgress(TextWriter output, bool live)
    {
        _out = output;
        _live = live;
    }

    public static LabProgress ForStderr() => new(Console.Error, !Console.IsErrorRedirected);

    public void Begin(string step)
    {
        _step = step;
        _started = Stopwatch.GetTimestamp();
        if (_live)
        {
            _out.Write($"  … {step}");
            _out.Flush();
        }
    }

    /// <summary>Updates the live line with a detail (for example "2/3 ready").</summary>
    public void Update(string detail)
    {
        if (_live && _step is not null)
        {
            _out.Write($"\r\u001b[K  … {_step}: {detail}");
            _out.Flush();
        }
    }

    public void Done(string? detail = null) => End("✓", detail);

    public void Fail(string? detail = null) => End("✗", detail);

    public void Note(string line)
    {
        if (_step is not null && _live)
        {
            _out.Write("\r\u001b[K");
        }

        _out.WriteLine("  " + line);
        if (_step is not null && _live)
        {
            _out.Write($"  … {_step}");
        }
    }

    private void End(string mark, string? detail)
    {
        if (_step is null)
        {
            return;
        }

        var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        var text = $"  {mark} {_step}{(detail is null ? string.Empty : ": " + detail)} ({seconds:0.0} s)";
        _out.WriteLine(_live ? "\r\u001b[K" + text : text);
        _step = null;
    }
}
