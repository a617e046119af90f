using Microsoft.Data.Sqlite;

namespace Flannel.Sqlite;

/// <summary>A failure of the lease database; transient when another process held the write lock too long.</summary>
internal sealed class SqliteStoreException : FlannelException
{
    private readonly bool _transient;

    public SqliteStoreException(string message, SqliteException inner)
        : base(message, inner)
    {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer; retrying later can succeed.
        _transient = inner.SqliteErrorCode is 5 or 6;
    }

    public override bool IsTransient => _transient;
}
