using System.Text.Json;

namespace Flannel.Cloud.Aws;

/// <summary>The aws-vpc fields of net-conf.json's <c>Backend</c> object.</summary>
internal sealed record AwsVpcBackendConfig(IReadOnlyList<string> RouteTableIds)
{
    public static AwsVpcBackendConfig Parse(JsonElement? backend)
    {
        if (backend is not { ValueKind: JsonValueKind.Object } obj)
        {
            return new AwsVpcBackendConfig([]);
        }

        foreach (var property in obj.EnumerateObject())
        {
            if (!string.Equals(property.Name, "RouteTableID", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var value = property.Value;
            switch (value.ValueKind)
            {
                case JsonValueKind.Null:
                    return new AwsVpcBackendConfig([]);
                case JsonValueKind.String:
                    return new AwsVpcBackendConfig([Check(value.GetString()!, "Backend.RouteTableID")]);
                case JsonValueKind.Array:
                    var ids = new List<string>();
                    var index = 0;
                    foreach (var item in value.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String)
                        {
                            throw new FlannelConfigurationException($"Backend.RouteTableID[{index}]", item.GetRawText(), $"must be a string (a route table id such as \"rtb-0123abcd\"), not a JSON {item.ValueKind}");
                        }

                        ids.Add(Check(item.GetString()!, $"Backend.RouteTableID[{index}]"));
                        index++;
                    }

                    if (ids.Count == 0)
                    {
                        throw new FlannelConfigurationException("Backend.RouteTableID", "[]", "must name at least one route table; omit it to detect the table");
                    }

                    return new AwsVpcBackendConfig(ids.Distinct(StringComparer.Ordinal).ToList());
                default:
                    throw new FlannelConfigurationException("Backend.RouteTableID", value.GetRawText(), $"must be a string or an array of strings, not a JSON {value.ValueKind}");
            }
        }

        return new AwsVpcBackendConfig([]);
    }

    private static string Check(string id, string field) =>
        id.StartsWith("rtb-", StringComparison.Ordinal) && id.Length > 4 && id.AsSpan(4).IndexOfAnyExceptInRange('0', 'z') < 0
            ? id
            : throw new FlannelConfigurationException(field, id, "must be a route table id of the form rtb-<hex>");
}
