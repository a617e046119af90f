namespace Flannel.Udp.Tests;

/// <summary>Runs work on a dedicated thread inside a test namespace (sockets made there belong to it).</summary>
internal static class NetworkNamespace
{
    public static T Run<T>(string path, Func<T> work)
    {
        using var ns = Flannel.Netlink.NetworkNamespace.OpenByPath(path);
        return ns.RunInside(work);
    }
}
