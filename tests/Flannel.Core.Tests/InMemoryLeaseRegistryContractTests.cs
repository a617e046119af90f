using Flannel.TestKit;
using Microsoft.Extensions.Time.Testing;

namespace Flannel.Core.Tests;

public sealed class InMemoryLeaseRegistryContractTests : LeaseRegistryContract
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    protected override TimeProvider TimeProvider => _time;

    protected override TimeSpan ExpirationTolerance => TimeSpan.Zero;

    protected override Task<ILeaseRegistry> CreateRegistryAsync(NetworkConfig config) =>
        Task.FromResult<ILeaseRegistry>(new InMemoryLeaseRegistry(config, _time));

    protected override Task AdvanceTimeAsync(TimeSpan duration)
    {
        _time.Advance(duration);
        return Task.CompletedTask;
    }
}
