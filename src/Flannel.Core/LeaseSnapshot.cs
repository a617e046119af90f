namespace Flannel;

/// <summary>Every lease in a store at one revision.</summary>
/// <param name="Leases">The leases.</param>
/// <param name="Revision">The store revision at which they were read; a watch resumes after it.</param>
public sealed record LeaseSnapshot(IReadOnlyList<Lease> Leases, long Revision);
