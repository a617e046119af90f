using System.Runtime.ExceptionServices;

namespace Flannel.TrafficRules;

/// <summary>Helpers the engines share for working family by family.</summary>
internal static class TrafficRuleFamilies
{
    /// <summary>
    /// Runs <paramref name="action"/> for every item even when one fails, then rethrows the first failure (the
    /// families are independent: a broken ip6tables must not keep the IPv4 rules from being installed).
    /// Cancellation stops at once.
    /// </summary>
    public static async Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> action)
    {
        ExceptionDispatchInfo? first = null;
        foreach (var item in items)
        {
            try
            {
                await action(item).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                first ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        first?.Throw();
    }

    /// <summary>"previous network N, subnet P" when the previous lease of a family differs from the current one; else null.</summary>
    public static string? DescribePrevious(TrafficNetworks current, TrafficNetworks? previous, IpFamily family)
    {
        if (previous?.NetworkOf(family) is not { } n)
        {
            return null;
        }

        var p = previous.SubnetOf(family);
        return n == current.NetworkOf(family) && p == current.SubnetOf(family)
            ? null
            : $"previous network {n}, subnet {p?.ToString() ?? "none"}";
    }
}
