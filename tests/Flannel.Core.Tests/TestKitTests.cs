using Flannel.TestKit;
using Xunit;

namespace Flannel.Core.Tests;

public class TestKitTests
{
    [PrivilegedFact]
    public void NamespaceFixtureCreatesAndDeletesANamespace()
    {
        string name;
        using (var ns = TestNamespace.Create("kit"))
        {
            name = ns.Name;
            Assert.StartsWith(TestNamespace.Prefix, name, StringComparison.Ordinal);
            var links = ns.IpJson("link", "show");
            Assert.Contains(links.EnumerateArray(), l => l.GetProperty("ifname").GetString() == "lo");
            Assert.Contains(name, Shell.Check("ip", "netns", "list"), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(name, Shell.Check("ip", "netns", "list"), StringComparison.Ordinal);
    }
}
