using System.Diagnostics;
using Xunit;

namespace Flannel.Cloud.Tests.Aws;

/// <summary>
/// With no explicit credentials the SDK's default chain runs; on EC2 it ends at the instance role, read over IMDSv2.
/// The SDK takes its IMDS endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT once per process (the library itself
/// reads no environment), so the test re-runs itself in a fresh child process where that variable points at the
/// fake IMDS before the SDK is first used.
/// </summary>
public sealed class AwsInstanceRoleTests
{
    private const string ChildVariable = "FLANNEL_TEST_AWS_ROLE_CHILD";

    [Fact]
    public async Task Without_explicit_credentials_the_instance_role_signs_the_calls()
    {
        if (Environment.GetEnvironmentVariable(ChildVariable) != "1")
        {
            RunInChildProcess(nameof(Without_explicit_credentials_the_instance_role_signs_the_calls));
            return;
        }

        Assert.Null(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"));
        await using var h = new AwsHarness();
        h.Options.Credentials = null;
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT", h.ImdsServer.BaseUri.ToString().TrimEnd('/'));
        await using var network = await h.RegisterAsync();

        var auth = h.Ec2Server.Requests.First().Header("authorization")!;
        Assert.Contains("Credential=ASIAROLEKEYFLANNEL01/", auth, StringComparison.Ordinal);
        Assert.Contains("x-amz-security-token", auth, StringComparison.Ordinal);
        Assert.Contains(h.ImdsServer.Requests, r => r.Path == "/latest/meta-data/iam/security-credentials/flannel-node-role" && r.Header("X-aws-ec2-metadata-token") is not null);
        Assert.DoesNotContain("roleSecret/NeverLogThis", h.Logs.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("IQoJroleSessionTokenNeverLogThis", h.Logs.AllText, StringComparison.Ordinal);
    }

    private static void RunInChildProcess(string method)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { typeof(AwsInstanceRoleTests).Assembly.Location, "-method", typeof(AwsInstanceRoleTests).FullName + "." + method, "-noColor" })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment[ChildVariable] = "1";
        foreach (var name in new[] { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED" })
        {
            psi.Environment.Remove(name);
        }

        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = child.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!child.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail("the child test process did not finish within 120 s");
        }

        var output = stdout.Result + stderr.Result;
        Assert.True(child.ExitCode == 0 && output.Contains("Total: 1, Errors: 0, Failed: 0, Skipped: 0", StringComparison.Ordinal), $"child test run failed (exit {child.ExitCode}):\n{output}");
    }
}
