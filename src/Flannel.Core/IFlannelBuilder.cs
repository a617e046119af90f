namespace Microsoft.Extensions.DependencyInjection;

/// <summary>What <c>services.AddFlannel()</c> returns: backend and store packages add their <c>AddXxx()</c> extensions to it.</summary>
public interface IFlannelBuilder
{
    /// <summary>The service collection being configured.</summary>
    IServiceCollection Services { get; }
}
