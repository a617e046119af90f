namespace Flanneld;

/// <summary>The lab command (placeholder until the lab lands in this file).</summary>
internal static class Lab
{
    public static Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string> environment)
    {
        Console.Error.WriteLine("flanneld lab: not available yet");
        return Task.FromResult(2);
    }
}
