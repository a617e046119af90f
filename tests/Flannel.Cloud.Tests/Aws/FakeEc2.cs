using System.Net;
using System.Xml.Linq;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Aws;

public sealed class FakeEni
{
    public required string Id { get; init; }

    public string SubnetId { get; init; } = "subnet-11";

    public string VpcId { get; init; } = "vpc-0a1b2c3d";

    public List<string> PrivateIps { get; init; } = [];

    public bool SourceDestCheck { get; set; } = true;
}

public sealed class FakeEc2Route
{
    public required string Destination { get; init; }

    public string? GatewayId { get; init; }

    public string? InstanceId { get; set; }

    public string? EniId { get; set; }

    public string State { get; set; } = "active";

    public string Origin { get; init; } = "CreateRoute";
}

public sealed class FakeRouteTable
{
    public required string Id { get; init; }

    public string VpcId { get; init; } = "vpc-0a1b2c3d";

    public bool Main { get; init; }

    public List<string> SubnetAssociations { get; init; } = [];

    public List<FakeEc2Route> Routes { get; } = [new FakeEc2Route { Destination = "10.0.0.0/16", GatewayId = "local", Origin = "CreateRouteTable" }];
}

/// <summary>
/// A fake EC2 endpoint speaking the Query API (form POST, Version 2016-11-15) with EC2's XML answers and its
/// namespace-less error document. Describe filters select whole route tables and answers list every route of each,
/// as EC2 does. Errors can be injected per action; every call is recorded.
/// </summary>
public sealed class FakeEc2
{
    private static readonly XNamespace Ns = "http://ec2.amazonaws.com/doc/2016-11-15/";
    private readonly object _gate = new();

    public string InstanceId { get; set; } = "i-0123456789abcdef0";

    public List<FakeEni> Enis { get; } = [new FakeEni { Id = "eni-aaa", PrivateIps = ["10.0.1.5"] }];

    public List<FakeRouteTable> Tables { get; } = [];

    public int RouteLimit { get; set; } = 50;

    public List<(string Action, string Code, int Status)> Inject { get; } = [];

    public List<(string Action, Dictionary<string, string> Form)> Calls { get; } = [];

    /// <summary>Raw bodies answered once (HTTP 200) for an action: malformed-response scenarios.</summary>
    public Dictionary<string, string> RawAnswers { get; } = [];

    /// <summary>Called under the lock before an action is processed; lets a test race the backend.</summary>
    public Action<string>? BeforeAction { get; set; }

    public List<string> Actions
    {
        get
        {
            lock (_gate)
            {
                return Calls.Select(c => c.Action).ToList();
            }
        }
    }

    public FakeRouteTable Table(string id) => Tables.Single(t => t.Id == id);

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
            var form = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in request.Body.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=');
                form[WebUtility.UrlDecode(part[..eq])] = WebUtility.UrlDecode(part[(eq + 1)..]);
            }

            var action = form.GetValueOrDefault("Action") ?? "?";
            Calls.Add((action, form));
            if (request.Method != "POST" || !(request.Header("content-type") ?? string.Empty).StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal))
            {
                return Error(400, "InvalidRequest", "expected a form POST");
            }

            if (!(request.Header("authorization") ?? string.Empty).StartsWith("AWS4-HMAC-SHA256 Credential=", StringComparison.Ordinal))
            {
                return Error(401, "AuthFailure", "AWS was not able to validate the provided access credentials");
            }

            if (form.GetValueOrDefault("Version") != "2016-11-15")
            {
                return Error(400, "InvalidParameterValue", "unsupported Version");
            }

            var injected = Inject.FindIndex(i => i.Action == action);
            if (injected >= 0)
            {
                var (_, code, status) = Inject[injected];
                Inject.RemoveAt(injected);
                return Error(status, code, code == "UnauthorizedOperation" ? "You are not authorized to perform this operation. Encoded authorization failure message: AbCdEf" : $"injected {code}");
            }

            if (RawAnswers.Remove(action, out var raw))
            {
                return new FakeResponse(200, raw, "text/xml;charset=UTF-8");
            }

            BeforeAction?.Invoke(action);
            return action switch
            {
                "DescribeInstances" => DescribeInstances(form),
                "DescribeRouteTables" => DescribeRouteTables(form),
                "ModifyNetworkInterfaceAttribute" => ModifyEni(form),
                "CreateRoute" => CreateRoute(form),
                "ReplaceRoute" => ReplaceRoute(form),
                "DeleteRoute" => DeleteRoute(form),
                _ => Error(400, "InvalidAction", $"The action {action} is not valid for this web service."),
            };
        }
    }

    private static List<string> Indexed(Dictionary<string, string> form, string prefix) =>
        form.Where(kv => kv.Key.StartsWith(prefix + ".", StringComparison.Ordinal) && int.TryParse(kv.Key[(prefix.Length + 1)..], out _)).Select(kv => kv.Value).ToList();

    private static Dictionary<string, List<string>> Filters(Dictionary<string, string> form)
    {
        var filters = new Dictionary<string, List<string>>();
        for (var i = 1; form.TryGetValue($"Filter.{i}.Name", out var name); i++)
        {
            filters[name] = Indexed(form, $"Filter.{i}.Value");
        }

        return filters;
    }

    private FakeResponse DescribeInstances(Dictionary<string, string> form)
    {
        var ids = Indexed(form, "InstanceId");
        var items = new XElement(Ns + "reservationSet");
        if (ids.Count == 0 || ids.Contains(InstanceId))
        {
            var enis = new XElement(Ns + "networkInterfaceSet", Enis.Select((e, i) => new XElement(Ns + "item",
                new XElement(Ns + "networkInterfaceId", e.Id), new XElement(Ns + "subnetId", e.SubnetId), new XElement(Ns + "vpcId", e.VpcId),
                new XElement(Ns + "privateIpAddress", e.PrivateIps.FirstOrDefault()), new XElement(Ns + "sourceDestCheck", e.SourceDestCheck ? "true" : "false"),
                new XElement(Ns + "attachment", new XElement(Ns + "deviceIndex", i)),
                new XElement(Ns + "privateIpAddressesSet", e.PrivateIps.Select((ip, j) => new XElement(Ns + "item",
                    new XElement(Ns + "privateIpAddress", ip), new XElement(Ns + "primary", j == 0 ? "true" : "false")))))));
            items.Add(new XElement(Ns + "item", new XElement(Ns + "reservationId", "r-1"), new XElement(Ns + "instancesSet", new XElement(Ns + "item",
                new XElement(Ns + "instanceId", InstanceId), new XElement(Ns + "subnetId", Enis[0].SubnetId), new XElement(Ns + "vpcId", Enis[0].VpcId),
                new XElement(Ns + "privateIpAddress", Enis[0].PrivateIps.FirstOrDefault()), enis))));
        }
        else if (ids.Count > 0)
        {
            return Error(400, "InvalidInstanceID.NotFound", $"The instance ID '{ids[0]}' does not exist");
        }

        return Ok("DescribeInstances", items);
    }

    private FakeResponse DescribeRouteTables(Dictionary<string, string> form)
    {
        var ids = Indexed(form, "RouteTableId");
        var missing = ids.FirstOrDefault(id => Tables.All(t => t.Id != id));
        if (missing is not null)
        {
            return Error(400, "InvalidRouteTableID.NotFound", $"The routeTable ID '{missing}' does not exist");
        }

        var filters = Filters(form);
        var selected = Tables.Where(t => ids.Count == 0 || ids.Contains(t.Id)).Where(t => filters.All(f => f.Key switch
        {
            "association.subnet-id" => t.SubnetAssociations.Any(f.Value.Contains),
            "association.main" => f.Value.Contains(t.Main ? "true" : "false") && t.Main,
            "vpc-id" => f.Value.Contains(t.VpcId),
            "route.destination-cidr-block" => t.Routes.Any(r => f.Value.Contains(r.Destination)),
            "route.state" => t.Routes.Any(r => f.Value.Contains(r.State)),
            _ => throw new InvalidOperationException("fake does not implement filter " + f.Key),
        })).ToList();

        var set = new XElement(Ns + "routeTableSet", selected.Select(t => new XElement(Ns + "item",
            new XElement(Ns + "routeTableId", t.Id), new XElement(Ns + "vpcId", t.VpcId),
            new XElement(Ns + "routeSet", t.Routes.Select(r => new XElement(Ns + "item",
                new XElement(Ns + "destinationCidrBlock", r.Destination),
                r.GatewayId is null ? null : new XElement(Ns + "gatewayId", r.GatewayId),
                r.InstanceId is null ? null : new XElement(Ns + "instanceId", r.InstanceId),
                r.EniId is null ? null : new XElement(Ns + "networkInterfaceId", r.EniId),
                new XElement(Ns + "state", r.State), new XElement(Ns + "origin", r.Origin)))),
            new XElement(Ns + "associationSet",
                t.Main ? new XElement(Ns + "item", new XElement(Ns + "routeTableAssociationId", "rtbassoc-main"), new XElement(Ns + "routeTableId", t.Id), new XElement(Ns + "main", "true")) : null,
                t.SubnetAssociations.Select(s => new XElement(Ns + "item", new XElement(Ns + "routeTableAssociationId", "rtbassoc-" + s), new XElement(Ns + "routeTableId", t.Id),
                    new XElement(Ns + "subnetId", s), new XElement(Ns + "main", "false")))))));
        return Ok("DescribeRouteTables", set);
    }

    private FakeResponse ModifyEni(Dictionary<string, string> form)
    {
        var eni = Enis.FirstOrDefault(e => e.Id == form.GetValueOrDefault("NetworkInterfaceId"));
        if (eni is null)
        {
            return Error(400, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID does not exist");
        }

        if (form.TryGetValue("SourceDestCheck.Value", out var v))
        {
            eni.SourceDestCheck = bool.Parse(v);
        }

        return Ok("ModifyNetworkInterfaceAttribute", new XElement(Ns + "return", "true"));
    }

    private bool TryTarget(Dictionary<string, string> form, out string? eni, out string? instance, out FakeResponse? error)
    {
        eni = form.GetValueOrDefault("NetworkInterfaceId");
        instance = form.GetValueOrDefault("InstanceId");
        error = null;
        if (eni is not null)
        {
            var id = eni;
            if (Enis.All(e => e.Id != id))
            {
                error = Error(400, "InvalidNetworkInterfaceID.NotFound", $"The networkInterface ID '{eni}' does not exist");
                return false;
            }

            instance = InstanceId;
            return true;
        }

        if (instance is not null)
        {
            return true;
        }

        error = Error(400, "MissingParameter", "The request must contain exactly one route target");
        return false;
    }

    private FakeResponse CreateRoute(Dictionary<string, string> form)
    {
        if (Tables.FirstOrDefault(t => t.Id == form.GetValueOrDefault("RouteTableId")) is not { } table)
        {
            return Error(400, "InvalidRouteTableID.NotFound", "The routeTable ID does not exist");
        }

        var destination = form.GetValueOrDefault("DestinationCidrBlock") ?? string.Empty;
        if (table.Routes.Any(r => r.Destination == destination))
        {
            return Error(400, "RouteAlreadyExists", $"The route identified by {destination} already exists.");
        }

        if (table.Routes.Count(r => r.GatewayId != "local") >= RouteLimit)
        {
            return Error(400, "RouteLimitExceeded", $"The maximum number of routes has been reached for route table {table.Id}.");
        }

        if (!TryTarget(form, out var eni, out var instance, out var error))
        {
            return error!;
        }

        table.Routes.Add(new FakeEc2Route { Destination = destination, EniId = eni, InstanceId = instance });
        return Ok("CreateRoute", new XElement(Ns + "return", "true"));
    }

    private FakeResponse ReplaceRoute(Dictionary<string, string> form)
    {
        if (Tables.FirstOrDefault(t => t.Id == form.GetValueOrDefault("RouteTableId")) is not { } table)
        {
            return Error(400, "InvalidRouteTableID.NotFound", "The routeTable ID does not exist");
        }

        var destination = form.GetValueOrDefault("DestinationCidrBlock");
        if (table.Routes.FirstOrDefault(r => r.Destination == destination) is not { } route)
        {
            return Error(400, "InvalidRoute.NotFound", $"no route with destination-cidr-block {destination} in route table {table.Id}");
        }

        if (!TryTarget(form, out var eni, out var instance, out var error))
        {
            return error!;
        }

        (route.EniId, route.InstanceId, route.State) = (eni, instance, "active");
        return Ok("ReplaceRoute", new XElement(Ns + "return", "true"));
    }

    private FakeResponse DeleteRoute(Dictionary<string, string> form)
    {
        if (Tables.FirstOrDefault(t => t.Id == form.GetValueOrDefault("RouteTableId")) is not { } table)
        {
            return Error(400, "InvalidRouteTableID.NotFound", "The routeTable ID does not exist");
        }

        var destination = form.GetValueOrDefault("DestinationCidrBlock");
        var route = table.Routes.FirstOrDefault(r => r.Destination == destination);
        if (route is null)
        {
            return Error(400, "InvalidRoute.NotFound", $"no route with destination-cidr-block {destination} in route table {table.Id}");
        }

        table.Routes.Remove(route);
        return Ok("DeleteRoute", new XElement(Ns + "return", "true"));
    }

    private static FakeResponse Ok(string action, params XElement[] content) =>
        new(200, new XDocument(new XElement(Ns + (action + "Response"), new XElement(Ns + "requestId", "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"), content)).ToString(), "text/xml;charset=UTF-8");

    private static FakeResponse Error(int status, string code, string message) =>
        new(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + new XElement("Response",
            new XElement("Errors", new XElement("Error", new XElement("Code", code), new XElement("Message", message))),
            new XElement("RequestID", "ae1b7d8f-0000-0000-0000-000000000000")), "text/xml;charset=UTF-8");
}

/// <summary>A fake IMDSv2: PUT /latest/api/token issues a token; GETs without it are refused with 401.</summary>
public sealed class FakeImds
{
    public string Token { get; } = "AQAEAimds-" + Guid.NewGuid().ToString("N");

    public Dictionary<string, string> Values { get; } = new()
    {
        ["instance-id"] = "i-0123456789abcdef0",
        ["placement/region"] = "us-west-2",
        ["placement/availability-zone"] = "us-west-2-lax-1a",
        ["iam/security-credentials/"] = "flannel-node-role",
        ["iam/security-credentials"] = "flannel-node-role",
        ["iam/security-credentials/flannel-node-role"] = """
            {"Code":"Success","LastUpdated":"2026-11-26T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAROLEKEYFLANNEL01",
             "SecretAccessKey":"roleSecret/NeverLogThis/0123456789abcdef","Token":"IQoJroleSessionTokenNeverLogThis==","Expiration":"2099-01-01T00:00:00Z"}
            """,
        ["iam/info"] = """{"Code":"Success","LastUpdated":"2026-11-26T00:00:00Z","InstanceProfileArn":"arn:aws:iam::123456789012:instance-profile/flannel-node-role","InstanceProfileId":"AIPAEXAMPLE"}""",
    };

    public FakeResponse Handle(RecordedRequest request)
    {
        if (request.Path == "/latest/api/token")
        {
            return request.Method == "PUT" && request.Header("X-aws-ec2-metadata-token-ttl-seconds") is { Length: > 0 }
                ? FakeResponse.Text(Token)
                : FakeResponse.Text("", 400);
        }

        if (request.Header("X-aws-ec2-metadata-token") != Token)
        {
            return FakeResponse.Text("", 401);
        }

        const string prefix = "/latest/meta-data/";
        return request.Path.StartsWith(prefix, StringComparison.Ordinal) && Values.TryGetValue(request.Path[prefix.Length..], out var v)
            ? FakeResponse.Text(v)
            : FakeResponse.Text("<html>404 - Not Found</html>", 404);
    }
}
