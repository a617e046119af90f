using System.Runtime.CompilerServices;
using Xunit;

namespace Flannel.TestKit;

/// <summary>
/// A fact that needs network namespaces. It is skipped with the probe's reason where they are unavailable,
/// unless FLANNEL_TEST_REQUIRE_PRIVILEGED=1, in which case it runs and fails with that reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PrivilegedFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="sourceFilePath">Filled in by the compiler.</param>
    /// <param name="sourceLineNumber">Filled in by the compiler.</param>
    public PrivilegedFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!Privileges.Required && !Privileges.Available)
        {
            Skip = Privileges.SkipReason;
        }
    }
}

/// <summary>A theory that needs network namespaces; see <see cref="PrivilegedFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PrivilegedTheoryAttribute : TheoryAttribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="sourceFilePath">Filled in by the compiler.</param>
    /// <param name="sourceLineNumber">Filled in by the compiler.</param>
    public PrivilegedTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!Privileges.Required && !Privileges.Available)
        {
            Skip = Privileges.SkipReason;
        }
    }
}
