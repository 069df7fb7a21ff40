using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Operations.Backups;

/// <summary>
/// Row counts and a SHA-256 of each table's content (rows in primary-key order, every column), read through a plain
/// connection: two databases with the same fingerprint hold the same data. Used to write a backup's manifest and to
/// prove a restore reproduced it.
/// </summary>
public static class TableFingerprint
{
    /// <summary>Every table of the model with its key columns, in a fixed order.</summary>
    public static IReadOnlyList<(string Table, string[] Key)> Tables(AgentryDbContext db) =>
        db.Model.GetEntityTypes()
            .Select(e => (Table: e.GetTableName()!, Key: e.FindPrimaryKey()!.Properties.Select(p => p.GetColumnName()).ToArray()))
            .DistinctBy(t => t.Table).OrderBy(t => t.Table, StringComparer.Ordinal).ToList();

    public static async Task<(Dictionary<string, long> Counts, Dictionary<string, string> Checksums)> ReadAsync(
        DbConnection connection, IReadOnlyList<(string Table, string[] Key)> tables, IProgress<string>? progress, CancellationToken cancellationToken,
        DbTransaction? transaction = null)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var checksums = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (table, key) in tables)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT * FROM \"{table}\" ORDER BY {string.Join(", ", key.Select(k => $"\"{k}\""))}";
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long rows = 0;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
                hash.AppendData(Encoding.UTF8.GetBytes(string.Join('\u001f', columns) + '\u001e'));
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows++;
                    for (var i = 0; i < columns.Length; i++) hash.AppendData(Encoding.UTF8.GetBytes(Text(reader.GetValue(i)) + '\u001f'));
                    hash.AppendData("\u001e"u8);
                }
            }
            counts[table] = rows;
            checksums[table] = Convert.ToHexStringLower(hash.GetHashAndReset());
            progress?.Report($"  {table}: {rows} row(s)");
        }
        return (counts, checksums);
    }

    /// <summary>The latest migration recorded in a database: its schema version.</summary>
    public static async Task<string> SchemaVersionAsync(DbConnection connection, CancellationToken cancellationToken, DbTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // The history table's columns follow the model's snake_case naming too.
        command.CommandText = "SELECT migration_id FROM \"__EFMigrationsHistory\" ORDER BY migration_id DESC LIMIT 1";
        return (await command.ExecuteScalarAsync(cancellationToken)) as string ?? "";
    }

    static string Text(object value) => value switch
    {
        DBNull => "\u0000",
        DateTime d => d.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        byte[] bytes => Convert.ToBase64String(bytes),
        bool b => b ? "1" : "0",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
