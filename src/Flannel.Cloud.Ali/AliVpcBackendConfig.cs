using System.Text.Json;

namespace Flannel.Cloud.Ali;

/// <summary>The ali-vpc fields of net-conf.json's <c>Backend</c> object.</summary>
internal sealed record AliVpcBackendConfig(string? AccessKeyId, string? AccessKeySecret)
{
    public static AliVpcBackendConfig Parse(JsonElement? backend)
    {
        if (backend is not { ValueKind: JsonValueKind.Object } obj)
        {
            return new AliVpcBackendConfig(null, null);
        }

        return new AliVpcBackendConfig(ReadString(obj, "AccessKeyID"), ReadString(obj, "AccessKeySecret"));
    }

    private static string? ReadString(JsonElement obj, string name)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (!string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            return property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Null => null,

                // never echo the value: it may be the secret
                _ => throw new FlannelConfigurationException($"Backend.{name}", null, $"must be a string, not a JSON {property.Value.ValueKind}"),
            };
        }

        return null;
    }

    /// <summary>Flannel's rule: the Backend pair if both are set, otherwise ACCESS_KEY_ID / ACCESS_KEY_SECRET.</summary>
    public AliCredentials ResolveCredentials(Func<string, string?> environment)
    {
        if (!string.IsNullOrEmpty(AccessKeyId) && !string.IsNullOrEmpty(AccessKeySecret))
        {
            return new AliCredentials(AccessKeyId, AccessKeySecret, "Backend options");
        }

        var id = environment("ACCESS_KEY_ID");
        var secret = environment("ACCESS_KEY_SECRET");
        if (!string.IsNullOrEmpty(id) && !string.IsNullOrEmpty(secret))
        {
            return new AliCredentials(id, secret, "environment ACCESS_KEY_ID/ACCESS_KEY_SECRET");
        }

        throw new FlannelConfigurationException(
            "Backend.AccessKeyID",
            null,
            "ali-vpc needs an AccessKey: set Backend.AccessKeyID and Backend.AccessKeySecret in net-conf.json, or the environment variables ACCESS_KEY_ID and ACCESS_KEY_SECRET");
    }
}
