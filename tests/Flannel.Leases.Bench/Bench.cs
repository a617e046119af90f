namespace Flannel.Leases.Bench;

internal static class Bench
{
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine("bench: not yet implemented");
        return Task.FromResult(2);
    }
}
