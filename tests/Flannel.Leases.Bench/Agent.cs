namespace Flannel.Leases.Bench;

/// <summary>A node's acquisition as a daemon runs it: the lease manager, retried while the failure is a lost race.</summary>
internal static class Agent
{
    public static async Task<(Lease Lease, int LostRounds)> AcquireAsync(LeaseManager manager, LeaseRequest request, CancellationToken ct)
    {
        for (var round = 0; ; round++)
        {
            try
            {
                return (await manager.AcquireLeaseAsync(request, ct).ConfigureAwait(false), round);
            }
            catch (LeaseConflictException) when (round < 30)
            {
                await Task.Delay(Random.Shared.Next(5, 50), ct).ConfigureAwait(false);
            }
        }
    }
}
