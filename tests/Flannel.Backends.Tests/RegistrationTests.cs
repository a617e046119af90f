using Flannel.HostGw;
using Flannel.Vxlan;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Flannel.Backends.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public void Both_backends_register_once_with_their_options()
    {
        var services = new ServiceCollection();
        services.AddFlannel()
            .AddVxlanBackend(o => o.StateDirectory = "/tmp/fln-state")
            .AddHostGwBackend(o => o.ReconcileInterval = TimeSpan.FromSeconds(3))
            .AddVxlanBackend();
        using var sp = services.BuildServiceProvider();
        var registry = sp.GetRequiredService<BackendRegistry>();
        Assert.Contains(BackendType.Vxlan, registry.Types);
        Assert.Contains(BackendType.HostGw, registry.Types);
        Assert.IsType<VxlanBackendFactory>(registry.GetFactory(new BackendType("VXLAN")));
        Assert.IsType<HostGwBackendFactory>(registry.GetFactory(BackendType.HostGw));
        Assert.Equal("/tmp/fln-state", sp.GetRequiredService<VxlanBackendOptions>().StateDirectory);
        Assert.Equal(TimeSpan.FromSeconds(3), sp.GetRequiredService<HostGwOptions>().ReconcileInterval);
    }
}
