using System.Globalization;
using System.Text.Json.Nodes;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Ali;

/// <summary>A route entry in the fake VPC.</summary>
public sealed class FakeAliEntry
{
    public required string Destination { get; init; }

    public string Type { get; init; } = "Custom";

    public string NextHopType { get; init; } = "Instance";

    public string NextHopId { get; init; } = string.Empty;

    /// <summary>When the entry turns Available (Pending until then).</summary>
    public DateTimeOffset AvailableAt { get; set; } = DateTimeOffset.MinValue;

    public string Id { get; } = "rte-" + Guid.NewGuid().ToString("N")[..12];

    public string Status => DateTimeOffset.UtcNow >= AvailableAt ? "Available" : "Pending";
}

public sealed class FakeAliTable
{
    public required string Id { get; init; }

    public string Type { get; init; } = "System";

    public string VpcId { get; init; } = "vpc-1";

    public List<string> VSwitchIds { get; init; } = [];

    public List<FakeAliEntry> Entries { get; } = [];
}

/// <summary>
/// A fake Alibaba Cloud VPC endpoint speaking the RPC wire format (signed GET, JSON answers and error documents).
/// It verifies every signature with <see cref="IndependentAliSignature"/>, rejects reused nonces and stale
/// timestamps, keeps a route table model where entries are Pending for a while and writes are refused with
/// IncorrectRouteEntryStatus meanwhile, and can inject error codes.
/// </summary>
public sealed class FakeAliVpc
{
    private readonly object _gate = new();
    private readonly HashSet<string> _nonces = [];
    private readonly HashSet<string> _clientTokens = [];
    private readonly string _accessKeyId;
    private readonly string _secret;

    public FakeAliVpc(string accessKeyId, string secret)
    {
        _accessKeyId = accessKeyId;
        _secret = secret;
    }

    public List<FakeAliTable> Tables { get; } = [];

    /// <summary>How long a new entry stays Pending.</summary>
    public TimeSpan PendingFor { get; set; } = TimeSpan.FromMilliseconds(60);

    /// <summary>Errors to answer, in order, for the given action (consumed one per call).</summary>
    public List<(string Action, string Code, int Status)> Inject { get; } = [];

    /// <summary>Raw bodies to answer once for an action (malformed-response scenarios).</summary>
    public Dictionary<string, string> RawAnswers { get; } = [];

    /// <summary>Every accepted or rejected call: action and its decoded parameters.</summary>
    public List<(string Action, Dictionary<string, string> Params)> Calls { get; } = [];

    public IEnumerable<string> Actions
    {
        get
        {
            lock (_gate)
            {
                return Calls.Select(c => c.Action).ToList();
            }
        }
    }

    public FakeAliTable Table(string id) => Tables.Single(t => t.Id == id);

    /// <summary>Runs <paramref name="change"/> under the fake's lock: a test changes the cloud while a backend calls it.</summary>
    public void Locked(Action change)
    {
        lock (_gate)
        {
            change();
        }
    }

    public FakeResponse Handle(RecordedRequest request)
    {
        lock (_gate)
        {
            var p = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in request.RawQuery.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=');
                p[IndependentAliSignature.Decode(eq < 0 ? part : part[..eq])] = eq < 0 ? string.Empty : IndependentAliSignature.Decode(part[(eq + 1)..]);
            }

            var action = p.GetValueOrDefault("Action") ?? "?";
            Calls.Add((action, p));
            if (request.Method != "GET" && request.Method != "POST")
            {
                return Error(405, "UnsupportedHTTPMethod", "method not allowed");
            }

            foreach (var required in new[] { "AccessKeyId", "Format", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp", "Version", "Signature", "RegionId" })
            {
                if (!p.ContainsKey(required))
                {
                    return Error(400, "MissingParameter", $"The input parameter \"{required}\" that is mandatory for processing this request is not supplied.");
                }
            }

            if (p["Version"] != "2016-04-28" || p["Format"] != "JSON" || p["SignatureMethod"] != "HMAC-SHA1" || p["SignatureVersion"] != "1.0")
            {
                return Error(400, "InvalidParameter", "unexpected common parameter values");
            }

            if (p["AccessKeyId"] != _accessKeyId)
            {
                return Error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
            }

            var stringToSign = IndependentAliSignature.StringToSign(request.Method, p);
            if (IndependentAliSignature.Signature(stringToSign, _secret) != p["Signature"])
            {
                return Error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:" + stringToSign);
            }

            if (!DateTimeOffset.TryParseExact(p["Timestamp"], "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts)
                || (DateTimeOffset.UtcNow - ts).Duration() > TimeSpan.FromMinutes(15))
            {
                return Error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
            }

            if (!_nonces.Add(p["SignatureNonce"]))
            {
                return Error(400, "SignatureNonceUsed", "Specified signature nonce was used already.");
            }

            var injected = Inject.FindIndex(i => i.Action == action);
            if (injected >= 0)
            {
                var (_, code, status) = Inject[injected];
                Inject.RemoveAt(injected);
                return Error(status, code, $"injected {code}");
            }

            if (RawAnswers.Remove(action, out var raw))
            {
                return new FakeResponse(200, raw);
            }

            return action switch
            {
                "DescribeRouteTableList" => DescribeRouteTableList(p),
                "DescribeRouteEntryList" => DescribeRouteEntryList(p),
                "CreateRouteEntry" => CreateRouteEntry(p),
                "DeleteRouteEntry" => DeleteRouteEntry(p),
                _ => Error(400, "InvalidAction.NotFound", $"Specified api is not found, please check your url and method."),
            };
        }
    }

    private FakeResponse DescribeRouteTableList(Dictionary<string, string> p)
    {
        var tables = Tables.Where(t => !p.TryGetValue("VpcId", out var vpc) || t.VpcId == vpc).ToList();
        var list = new JsonArray(tables.Select(t => (JsonNode)new JsonObject
        {
            ["RouteTableId"] = t.Id,
            ["RouteTableType"] = t.Type,
            ["VpcId"] = t.VpcId,
            ["RouterId"] = "vrt-1",
            ["RouterType"] = "VRouter",
            ["Status"] = "Available",
            ["VSwitchIds"] = new JsonObject { ["VSwitchId"] = new JsonArray(t.VSwitchIds.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()) },
        }).ToArray());
        return Ok(new JsonObject
        {
            ["RouterTableList"] = new JsonObject { ["RouterTableListType"] = list },
            ["TotalCount"] = tables.Count,
            ["PageNumber"] = 1,
            ["PageSize"] = 50,
        });
    }

    private FakeResponse DescribeRouteEntryList(Dictionary<string, string> p)
    {
        if (!p.TryGetValue("RouteTableId", out var id) || Tables.FirstOrDefault(t => t.Id == id) is not { } table)
        {
            return Error(404, "InvalidRouteTableId.NotFound", "Specified route table does not exist.");
        }

        var max = int.Parse(p.GetValueOrDefault("MaxResult", "10"), CultureInfo.InvariantCulture);
        var start = int.Parse(p.GetValueOrDefault("NextToken", "0") is { Length: > 0 } t ? t : "0", CultureInfo.InvariantCulture);
        var matching = table.Entries
            .Where(e => !p.TryGetValue("DestinationCidrBlock", out var d) || e.Destination == d)
            .Where(e => !p.TryGetValue("RouteEntryType", out var rt) || e.Type == rt)
            .ToList();
        var page = matching.Skip(start).Take(max).ToList();
        var next = start + page.Count < matching.Count ? (start + page.Count).ToString(CultureInfo.InvariantCulture) : string.Empty;
        var entries = new JsonArray(page.Select(e => (JsonNode)new JsonObject
        {
            ["RouteEntryId"] = e.Id,
            ["RouteTableId"] = table.Id,
            ["DestinationCidrBlock"] = e.Destination,
            ["Type"] = e.Type,
            ["Status"] = e.Status,
            ["IpVersion"] = "ipv4",
            ["NextHops"] = new JsonObject
            {
                ["NextHop"] = new JsonArray(new JsonObject { ["NextHopType"] = e.NextHopType, ["NextHopId"] = e.NextHopId, ["Enabled"] = 1, ["Weight"] = 0 }),
            },
        }).ToArray());
        return Ok(new JsonObject { ["NextToken"] = next, ["RouteEntrys"] = new JsonObject { ["RouteEntry"] = entries } });
    }

    private FakeResponse CreateRouteEntry(Dictionary<string, string> p)
    {
        if (Tables.FirstOrDefault(t => t.Id == p.GetValueOrDefault("RouteTableId")) is not { } table)
        {
            return Error(404, "InvalidRouteTableId.NotFound", "Specified route table does not exist.");
        }

        if (p.GetValueOrDefault("NextHopType") != "Instance" || string.IsNullOrEmpty(p.GetValueOrDefault("NextHopId")) || string.IsNullOrEmpty(p.GetValueOrDefault("DestinationCidrBlock")))
        {
            return Error(400, "InvalidParameter", "NextHopType, NextHopId and DestinationCidrBlock are required");
        }

        if (p.TryGetValue("ClientToken", out var token) && _clientTokens.Contains(token) && table.Entries.Any(e => e.Destination == p["DestinationCidrBlock"] && e.NextHopId == p["NextHopId"]))
        {
            return Ok(new JsonObject { ["RouteEntryId"] = "rte-idempotent" });
        }

        if (table.Entries.Any(e => e.Status != "Available"))
        {
            return Error(400, "IncorrectRouteEntryStatus", "Some route entries in the route table are in an incorrect status.");
        }

        if (table.Entries.Any(e => e.Destination == p["DestinationCidrBlock"]))
        {
            return Error(400, "RouterEntryConflict.Duplicated", "Specified CIDR block conflicts with an existing route entry.");
        }

        var entry = new FakeAliEntry { Destination = p["DestinationCidrBlock"], NextHopId = p["NextHopId"], AvailableAt = DateTimeOffset.UtcNow + PendingFor };
        table.Entries.Add(entry);
        if (token is not null)
        {
            _clientTokens.Add(token);
        }

        return Ok(new JsonObject { ["RouteEntryId"] = entry.Id });
    }

    private FakeResponse DeleteRouteEntry(Dictionary<string, string> p)
    {
        if (Tables.FirstOrDefault(t => t.Id == p.GetValueOrDefault("RouteTableId")) is not { } table)
        {
            return Error(404, "InvalidRouteTableId.NotFound", "Specified route table does not exist.");
        }

        var entry = table.Entries.FirstOrDefault(e => e.Destination == p.GetValueOrDefault("DestinationCidrBlock") && e.NextHopId == p.GetValueOrDefault("NextHopId"));
        if (entry is null)
        {
            return Error(404, "InvalidRouteEntry.NotFound", "Specified route entry does not exist.");
        }

        if (entry.Type != "Custom")
        {
            return Error(400, "OperationDenied", "System route entries cannot be deleted.");
        }

        if (table.Entries.Any(e => e.Status != "Available"))
        {
            return Error(400, "IncorrectRouteEntryStatus", "Some route entries in the route table are in an incorrect status.");
        }

        table.Entries.Remove(entry);
        return Ok(new JsonObject());
    }

    private static FakeResponse Ok(JsonObject body)
    {
        body["RequestId"] = Guid.NewGuid().ToString().ToUpperInvariant();
        return new FakeResponse(200, body.ToJsonString());
    }

    private static FakeResponse Error(int status, string code, string message) =>
        new(status, new JsonObject
        {
            ["RequestId"] = Guid.NewGuid().ToString().ToUpperInvariant(),
            ["HostId"] = "vpc.aliyuncs.com",
            ["Code"] = code,
            ["Message"] = message,
            ["Recommend"] = "https://api.aliyun.com/troubleshoot?q=" + code,
        }.ToJsonString());
}

/// <summary>A fake ECS metadata service: token (hardened) mode or normal mode only.</summary>
public sealed class FakeAliMetadata
{
    public Dictionary<string, string> Values { get; } = new()
    {
        ["region-id"] = "cn-hangzhou",
        ["instance-id"] = "i-self",
        ["vpc-id"] = "vpc-1",
        ["vswitch-id"] = "vsw-1",
    };

    /// <summary>True: PUT /latest/api/token issues a token and GETs without it are refused. False: the token endpoint is 404 (normal mode).</summary>
    public bool TokenMode { get; set; } = true;

    public string Token { get; } = "AQAEAtoken-" + Guid.NewGuid().ToString("N");

    public FakeResponse Handle(RecordedRequest request)
    {
        if (request.Path == "/latest/api/token")
        {
            if (!TokenMode)
            {
                return FakeResponse.Text("Not Found", 404);
            }

            return request.Method == "PUT" && request.Header("X-aliyun-ecs-metadata-token-ttl-seconds") is { Length: > 0 }
                ? FakeResponse.Text(Token)
                : FakeResponse.Text("Bad Request", 400);
        }

        if (TokenMode && request.Header("X-aliyun-ecs-metadata-token") != Token)
        {
            return FakeResponse.Text("Unauthorized", 401);
        }

        const string prefix = "/latest/meta-data/";
        if (request.Method == "GET" && request.Path.StartsWith(prefix, StringComparison.Ordinal) && Values.TryGetValue(request.Path[prefix.Length..], out var value))
        {
            return FakeResponse.Text(value + "\n");
        }

        return FakeResponse.Text("Not Found", 404);
    }
}
