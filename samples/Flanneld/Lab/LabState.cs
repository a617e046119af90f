using System.Text.Json;

namespace Flanneld.Labs;

/// <summary>
/// What a running lab owns, recorded before each piece is created so that <c>lab down</c> (or the next
/// <c>lab up</c> after a crash) can remove exactly that: daemon PIDs, namespaces, the working directory.
/// </summary>
internal sealed class LabState
{
    public required string Directory { get; init; }

    public required LabName Name { get; init; }

    public string Backend { get; set; } = string.Empty;

    public List<(string Host, int Pid)> Processes { get; } = [];

    public List<string> Namespaces { get; } = [];

    public static string StateFile(string directory) => Path.Combine(directory, "state.json");

    public void Save()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var tmp = StateFile(Directory) + ".tmp";
        using (var stream = File.Create(tmp))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", Name.Value);
            w.WriteString("directory", Directory);
            w.WriteString("backend", Backend);
            w.WriteStartArray("processes");
            foreach (var (host, pid) in Processes)
            {
                w.WriteStartObject();
                w.WriteString("host", host);
                w.WriteNumber("pid", pid);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("namespaces");
            foreach (var ns in Namespaces)
            {
                w.WriteStringValue(ns);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        File.Move(tmp, StateFile(Directory), overwrite: true);
    }

    /// <summary>
    /// Reads the state file; null when there is none. A damaged file yields what could be read. Only namespaces of
    /// lab <paramref name="name"/> are taken from it.
    /// </summary>
    public static LabState? Load(string directory, LabName name)
    {
        var path = StateFile(directory);
        if (!File.Exists(path))
        {
            return null;
        }

        var state = new LabState { Directory = directory, Name = name };
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.TryGetProperty("backend", out var b) && b.ValueKind == JsonValueKind.String)
            {
                state.Backend = b.GetString()!;
            }

            if (root.TryGetProperty("processes", out var ps) && ps.ValueKind == JsonValueKind.Array)
            {
                foreach (var p in ps.EnumerateArray())
                {
                    if (p.TryGetProperty("pid", out var pid) && pid.TryGetInt32(out var id) && id > 1)
                    {
                        state.Processes.Add((p.TryGetProperty("host", out var h) ? h.GetString() ?? "?" : "?", id));
                    }
                }
            }

            if (root.TryGetProperty("namespaces", out var nss) && nss.ValueKind == JsonValueKind.Array)
            {
                foreach (var ns in nss.EnumerateArray())
                {
                    if (ns.GetString() is { } nsName && name.OwnsNamespace(nsName))
                    {
                        state.Namespaces.Add(nsName);
                    }
                }
            }
        }
        catch (JsonException)
        {
            // A torn state file: fall back to the prefix scan the caller does anyway.
        }

        return state;
    }
}
