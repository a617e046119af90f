using System.Text.Json.Serialization;

namespace Flannel.Cloud.Ali;

#pragma warning disable CA1812 // instantiated by the JSON source generator

internal sealed class AliErrorResponse
{
    public string? RequestId { get; set; }

    public string? Code { get; set; }

    public string? Message { get; set; }
}

internal sealed class DescribeRouteTableListResponse
{
    public string? RequestId { get; set; }

    public int TotalCount { get; set; }

    public int PageNumber { get; set; }

    public int PageSize { get; set; }

    public RouterTableListWrapper? RouterTableList { get; set; }
}

internal sealed class RouterTableListWrapper
{
    public List<AliRouteTableInfo>? RouterTableListType { get; set; }
}

internal sealed class AliRouteTableInfo
{
    public string? RouteTableId { get; set; }

    public string? RouteTableType { get; set; }

    public string? VpcId { get; set; }

    public string? RouterId { get; set; }

    public string? RouterType { get; set; }

    public string? Status { get; set; }

    public VSwitchIdsWrapper? VSwitchIds { get; set; }
}

internal sealed class VSwitchIdsWrapper
{
    public List<string>? VSwitchId { get; set; }
}

internal sealed class DescribeRouteEntryListResponse
{
    public string? RequestId { get; set; }

    public string? NextToken { get; set; }

    public RouteEntrysWrapper? RouteEntrys { get; set; }
}

internal sealed class RouteEntrysWrapper
{
    public List<AliRouteEntry>? RouteEntry { get; set; }
}

internal sealed class AliRouteEntry
{
    public string? RouteEntryId { get; set; }

    public string? RouteTableId { get; set; }

    public string? DestinationCidrBlock { get; set; }

    public string? Type { get; set; }

    public string? Status { get; set; }

    public NextHopsWrapper? NextHops { get; set; }
}

internal sealed class NextHopsWrapper
{
    public List<AliNextHop>? NextHop { get; set; }
}

internal sealed class AliNextHop
{
    public string? NextHopType { get; set; }

    public string? NextHopId { get; set; }
}

internal sealed class CreateRouteEntryResponse
{
    public string? RequestId { get; set; }

    public string? RouteEntryId { get; set; }
}

internal sealed class AliRequestIdResponse
{
    public string? RequestId { get; set; }
}

[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(AliErrorResponse))]
[JsonSerializable(typeof(DescribeRouteTableListResponse))]
[JsonSerializable(typeof(DescribeRouteEntryListResponse))]
[JsonSerializable(typeof(CreateRouteEntryResponse))]
[JsonSerializable(typeof(AliRequestIdResponse))]
internal sealed partial class AliJsonContext : JsonSerializerContext
{
}
