using System.Text.Json.Serialization;

namespace Flannel.Cloud.Gce;

#pragma warning disable CA1812 // instantiated by the JSON source generator
#pragma warning disable CA2227 // DTOs

internal sealed class GceRoute
{
    public string? Kind { get; set; }

    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Network { get; set; }

    public string? DestRange { get; set; }

    public long? Priority { get; set; }

    public string? NextHopInstance { get; set; }

    public List<string>? Tags { get; set; }

    public string? SelfLink { get; set; }

    public string? Description { get; set; }
}

internal sealed class GceRouteList
{
    public List<GceRoute>? Items { get; set; }

    public string? NextPageToken { get; set; }
}

internal sealed class GceOperation
{
    public string? Name { get; set; }

    public string? Status { get; set; }

    public string? OperationType { get; set; }

    public string? TargetLink { get; set; }

    public GceOperationError? Error { get; set; }

    public int? HttpErrorStatusCode { get; set; }

    public string? HttpErrorMessage { get; set; }
}

internal sealed class GceOperationError
{
    public List<GceErrorItem>? Errors { get; set; }
}

internal sealed class GceErrorItem
{
    public string? Code { get; set; }

    public string? Message { get; set; }

    public string? Domain { get; set; }

    public string? Reason { get; set; }
}

internal sealed class GceInstance
{
    public string? Name { get; set; }

    public string? SelfLink { get; set; }

    public bool? CanIpForward { get; set; }
}

internal sealed class GceNetwork
{
    public string? Name { get; set; }

    public string? SelfLink { get; set; }
}

internal sealed class GceErrorEnvelope
{
    public GceErrorBody? Error { get; set; }
}

internal sealed class GceErrorBody
{
    public int Code { get; set; }

    public string? Message { get; set; }

    public List<GceErrorItem>? Errors { get; set; }
}

internal sealed class GceToken
{
    [JsonPropertyName("access_token")]
    public string? AccessToken { get; set; }

    [JsonPropertyName("expires_in")]
    public long ExpiresIn { get; set; }

    [JsonPropertyName("token_type")]
    public string? TokenType { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(GceRoute))]
[JsonSerializable(typeof(GceRouteList))]
[JsonSerializable(typeof(GceOperation))]
[JsonSerializable(typeof(GceInstance))]
[JsonSerializable(typeof(GceNetwork))]
[JsonSerializable(typeof(GceErrorEnvelope))]
[JsonSerializable(typeof(GceToken))]
internal sealed partial class GceJsonContext : JsonSerializerContext
{
}
