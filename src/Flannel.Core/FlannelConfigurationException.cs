namespace Flannel;

/// <summary>
/// Bad configuration: net-conf.json, the etcd <c>config</c> value, backend options or host options.
/// The message always names the field, the offending value and the rule it breaks.
/// </summary>
public sealed class FlannelConfigurationException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public FlannelConfigurationException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What is wrong.</param>
    public FlannelConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public FlannelConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for one field.</summary>
    /// <param name="field">The field name as the user wrote it in the configuration (for example <c>SubnetLen</c>).</param>
    /// <param name="value">The offending value as text, or null when the field is missing.</param>
    /// <param name="rule">The rule the value breaks, as a sentence fragment.</param>
    /// <param name="innerException">An optional cause.</param>
    public FlannelConfigurationException(string field, string? value, string rule, Exception? innerException = null)
        : base(Format(field, value, rule), innerException)
    {
        Field = field;
        Value = value;
        Rule = rule;
    }

    /// <summary>The configuration field at fault, when one field is.</summary>
    public string? Field { get; }

    /// <summary>The offending value as text (null when missing or not applicable).</summary>
    public string? Value { get; }

    /// <summary>The rule that the value breaks.</summary>
    public string? Rule { get; }

    private static string Format(string field, string? value, string rule) =>
        value is null ? $"{field}: {rule}" : $"{field}: invalid value \"{value}\": {rule}";
}
