namespace Flannel;

/// <summary>The kind of a lease change; the numeric values are flannel's.</summary>
public enum LeaseEventKind
{
    /// <summary>A lease was created or changed.</summary>
    Added = 0,

    /// <summary>A lease was deleted or expired.</summary>
    Removed = 1,
}

/// <summary>A change to one lease.</summary>
/// <param name="Kind">Added or removed.</param>
/// <param name="Lease">The lease; for a removal, the last known attributes where they are known.</param>
public readonly record struct LeaseEvent(LeaseEventKind Kind, Lease Lease);
