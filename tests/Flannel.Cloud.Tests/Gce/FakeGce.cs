using System.Text.Json;
using System.Text.Json.Nodes;
using Flannel.Cloud.Tests.Infrastructure;

namespace Flannel.Cloud.Tests.Gce;

/// <summary>
/// One loopback server playing both the GCE metadata server (<c>/computeMetadata/v1/…</c>, refusing requests without
/// <c>Metadata-Flavor: Google</c> and answering with that header) and the Compute Engine REST v1 API
/// (<c>/compute/v1/projects/…</c>, Bearer token required, Google error envelopes, global operations that go
/// PENDING → RUNNING → DONE over successive gets and apply their effect when DONE).
/// </summary>
public sealed class FakeGce
{
    public const string Link = "https://www.googleapis.com/compute/v1/projects/proj-1/";
    public const string NetworkLink = Link + "global/networks/default";
    public const string InstanceLink = Link + "zones/us-central1-a/instances/node-1";

    private readonly object _gate = new();
    private int _operationCounter;

    public string Token { get; } = "ya29.fake-" + Guid.NewGuid().ToString("N");

    public int TokensIssued { get; private set; }

    public Dictionary<string, string> Metadata { get; } = new()
    {
        ["project/project-id"] = "proj-1",
        ["instance/name"] = "node-1",
        ["instance/zone"] = "projects/123456/zones/us-central1-a",
        ["instance/network-interfaces/0/network"] = "projects/123456/networks/default",
    };

    public bool CanIpForward { get; set; } = true;

    public Dictionary<string, JsonObject> Routes { get; } = [];

    public Dictionary<string, (JsonObject Op, int PollsLeft, Action? Effect)> Operations { get; } = [];

    public int PollsUntilDone { get; set; } = 2;

    public int RouteQuota { get; set; } = 100;

    /// <summary>Errors answered once for a call (<c>routes.get</c>, <c>routes.insert</c>, …): HTTP status and reason.</summary>
    public List<(string Call, int Status, string Reason)> Inject { get; } = [];

    /// <summary>Raw 200 bodies answered once for a call (malformed-response scenarios).</summary>
    public Dictionary<string, string> RawAnswers { get; } = [];

    public Action<string>? BeforeCall { get; set; }

    /// <summary>Compute calls in order, as "routes.get flannel-…".</summary>
    public List<string> Calls { get; } = [];

    public List<(string Call, RecordedRequest Request)> ComputeRequests { get; } = [];

    public static JsonObject Route(string name, string dest, string nextHop) => new()
    {
        ["kind"] = "compute#route",
        ["id"] = "4242",
        ["name"] = name,
        ["network"] = NetworkLink,
        ["destRange"] = dest,
        ["priority"] = 1000,
        ["nextHopInstance"] = nextHop,
        ["selfLink"] = Link + "global/routes/" + name,
    };

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
            if (request.Path.StartsWith("/computeMetadata/v1/", StringComparison.Ordinal))
            {
                return HandleMetadata(request);
            }

            if (request.Path.StartsWith("/compute/v1/", StringComparison.Ordinal))
            {
                return HandleCompute(request);
            }

            return FakeResponse.Text("not found", 404);
        }
    }

    private static readonly Dictionary<string, string> FlavorHeader = new() { ["Metadata-Flavor"] = "Google" };

    private FakeResponse HandleMetadata(RecordedRequest request)
    {
        if (request.Header("Metadata-Flavor") != "Google")
        {
            return new FakeResponse(403, "Missing required header: Metadata-Flavor", "text/html", FlavorHeader);
        }

        var key = request.Path["/computeMetadata/v1/".Length..];
        if (key == "instance/service-accounts/default/token")
        {
            TokensIssued++;
            return new FakeResponse(200, $$"""{"access_token":"{{Token}}","expires_in":3599,"token_type":"Bearer"}""", "application/json", FlavorHeader);
        }

        return Metadata.TryGetValue(key, out var value)
            ? new FakeResponse(200, value, "application/text", FlavorHeader)
            : new FakeResponse(404, "Not Found", "text/html", FlavorHeader);
    }

    private FakeResponse HandleCompute(RecordedRequest request)
    {
        var parts = request.Path["/compute/v1/".Length..].Split('/');
        var call = (request.Method, parts) switch
        {
            ("GET", [_, _, "global", "networks", _]) => "networks.get",
            ("GET", [_, _, "zones", _, "instances", _]) => "instances.get",
            ("GET", [_, _, "global", "routes", _]) => "routes.get",
            ("DELETE", [_, _, "global", "routes", _]) => "routes.delete",
            ("POST", [_, _, "global", "routes"]) => "routes.insert",
            ("GET", [_, _, "global", "routes"]) => "routes.list",
            ("GET", [_, _, "global", "operations", _]) => "globalOperations.get",
            _ => "unknown",
        };
        var target = parts.Length > 4 ? Uri.UnescapeDataString(parts[^1]) : string.Empty;
        Calls.Add(call + (target.Length > 0 ? " " + target : string.Empty));
        ComputeRequests.Add((call, request));

        if (request.Header("Authorization") != "Bearer " + Token)
        {
            return Error(401, "authError", "Request had invalid authentication credentials.");
        }

        if (parts.Length < 2 || parts[0] != "projects" || parts[1] != "proj-1")
        {
            return Error(404, "notFound", $"The resource 'projects/{(parts.Length > 1 ? parts[1] : "")}' was not found");
        }

        var injected = Inject.FindIndex(i => i.Call == call);
        if (injected >= 0)
        {
            var (_, status, reason) = Inject[injected];
            Inject.RemoveAt(injected);
            return Error(status, reason, reason == "forbidden" ? $"Required '{call.Replace("routes.insert", "compute.routes.create")}' permission for 'projects/proj-1'" : "injected " + reason);
        }

        if (RawAnswers.Remove(call, out var raw))
        {
            return new FakeResponse(200, raw);
        }

        BeforeCall?.Invoke(call);
        switch (call)
        {
            case "networks.get":
                return target == "default" ? Ok(new JsonObject { ["kind"] = "compute#network", ["name"] = "default", ["selfLink"] = NetworkLink }) : NotFound("global/networks/" + target);
            case "instances.get":
                return target == "node-1"
                    ? Ok(new JsonObject
                    {
                        ["kind"] = "compute#instance", ["name"] = "node-1", ["selfLink"] = InstanceLink, ["canIpForward"] = CanIpForward,
                        ["networkInterfaces"] = new JsonArray(new JsonObject { ["network"] = NetworkLink, ["networkIP"] = "10.128.0.5" }),
                    })
                    : NotFound("zones/us-central1-a/instances/" + target);
            case "routes.get":
                return Routes.TryGetValue(target, out var route) ? Ok(route.DeepClone().AsObject()) : NotFound("global/routes/" + target);
            case "routes.list":
                return Ok(new JsonObject { ["kind"] = "compute#routeList", ["items"] = new JsonArray(Routes.Values.Select(r => (JsonNode)r.DeepClone()).ToArray()) });
            case "routes.insert":
                var body = JsonNode.Parse(request.Body)!.AsObject();
                var name = body["name"]!.GetValue<string>();
                if (Routes.ContainsKey(name))
                {
                    return Error(409, "alreadyExists", $"The resource 'projects/proj-1/global/routes/{name}' already exists");
                }

                if (Routes.Count >= RouteQuota)
                {
                    return Ok(NewOperation("insert", name, null, new JsonObject { ["code"] = "QUOTA_EXCEEDED", ["message"] = "Quota 'ROUTES' exceeded.  Limit: " + RouteQuota + " globally." }));
                }

                body["kind"] = "compute#route";
                body["id"] = "4243";
                body["selfLink"] = Link + "global/routes/" + name;
                return Ok(NewOperation("insert", name, () => Routes[name] = body, null));
            case "routes.delete":
                return Routes.ContainsKey(target) ? Ok(NewOperation("delete", target, () => Routes.Remove(target), null)) : NotFound("global/routes/" + target);
            case "globalOperations.get":
                if (!Operations.TryGetValue(target, out var op))
                {
                    return NotFound("global/operations/" + target);
                }

                if (op.PollsLeft > 0)
                {
                    op.PollsLeft--;
                    op.Op["status"] = op.PollsLeft == 0 ? "DONE" : "RUNNING";
                    if (op.PollsLeft == 0)
                    {
                        op.Effect?.Invoke();
                    }

                    Operations[target] = op;
                }

                return Ok(op.Op.DeepClone().AsObject());
            default:
                return Error(400, "invalid", "unknown call");
        }
    }

    private JsonObject NewOperation(string type, string routeName, Action? effect, JsonObject? error)
    {
        var name = $"operation-{++_operationCounter}-{Guid.NewGuid():N}"[..30];
        var op = new JsonObject
        {
            ["kind"] = "compute#operation",
            ["id"] = "777",
            ["name"] = name,
            ["operationType"] = type,
            ["targetLink"] = Link + "global/routes/" + routeName,
            ["status"] = error is null ? "PENDING" : "DONE",
            ["selfLink"] = Link + "global/operations/" + name,
        };
        if (error is not null)
        {
            op["error"] = new JsonObject { ["errors"] = new JsonArray(error) };
            op["httpErrorStatusCode"] = 403;
            op["httpErrorMessage"] = "FORBIDDEN";
        }

        Operations[name] = (op, error is null ? PollsUntilDone : 0, effect);
        return op.DeepClone().AsObject();
    }

    private static FakeResponse Ok(JsonObject body) => new(200, body.ToJsonString());

    private static FakeResponse NotFound(string resource) => Error(404, "notFound", $"The resource 'projects/proj-1/{resource}' was not found");

    private static FakeResponse Error(int status, string reason, string message) =>
        new(status, new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["code"] = status,
                ["message"] = message,
                ["errors"] = new JsonArray(new JsonObject { ["message"] = message, ["domain"] = "global", ["reason"] = reason }),
            },
        }.ToJsonString());
}
