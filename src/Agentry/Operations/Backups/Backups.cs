using System.Diagnostics;
using System.Security.Cryptography;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Operations.Backups;

/// <summary>
/// Online backups, their verification and restores, the same for every database: the provider's
/// <see cref="IDatabaseBackup"/> copies, restore-tests and restores; this class keeps the folder (<see cref="BackupFolder"/>),
/// writes the manifest (row counts and table checksums of the copy, the file's SHA-256), encrypts the file when a backup
/// key is configured (<see cref="BackupEncryption"/>), verifies every backup (checksum, integrity, and every
/// <see cref="BackupOptions.RestoreTestEvery"/>th a restore into a temporary database compared with its manifest), prunes
/// old ones and audits all of it. A restore refuses a backup of the other provider, with a wrong checksum or an unknown
/// schema version, and switches to the restored database only once it is complete and verified.
/// </summary>
public sealed partial class Backups(
    IServiceScopeFactory scopes, IEnumerable<IDatabaseBackup> providers, IOptions<BackupOptions> options, IOptions<DataOptions> data, IHostEnvironment environment,
    AuditLog audit, TimeProvider time, ILogger<Backups> logger) : IDisposable
{
    readonly BackupFolder _folder = new(Path.GetFullPath(Path.Combine(data.Value.FullDirectory(environment.ContentRootPath), options.Value.Folder)));
    readonly Lazy<byte[]?> _key = new(options.Value.LoadEncryptionKey);
    readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public string Folder => _folder.Path;

    /// <summary>Whether backups are encrypted (a backup key is configured).</summary>
    public bool Encrypts => _key.Value is not null;

    /// <summary>Backups in the folder, newest first.</summary>
    public IReadOnlyList<BackupManifest> List() => _folder.Manifests((file, e) => LogUnreadableManifest(e, file));

    public BackupManifest? LastVerified => List().FirstOrDefault(m => m.Verification is { Ok: true });

    public void Dispose() => _oneAtATime.Dispose();

    /// <summary>
    /// Takes a backup, verifies it (restore-testing it when due), records the result and prunes old backups. One at a
    /// time per instance: a second request while one runs gets <see cref="BackupInProgressException"/> at once. With
    /// <paramref name="encrypt"/> (the command line's --encrypt) a backup key is required even if none would otherwise apply.
    /// </summary>
    public async Task<BackupManifest> CreateAsync(IProgress<string>? progress, CancellationToken cancellationToken, bool encrypt = false)
    {
        if (encrypt && !Encrypts)
            throw new InvalidOperationException("--encrypt needs a backup key: set Backup:EncryptionKey (AGENTRY_BACKUP_KEY) or Backup:EncryptionKeyFile; make one with 'agentry secrets new-key'.");
        if (!await _oneAtATime.WaitAsync(0, cancellationToken)) throw new BackupInProgressException();
        try
        {
            return await CreateNowAsync(progress, cancellationToken);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    async Task<BackupManifest> CreateNowAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        _folder.Create();
        var started = Stopwatch.GetTimestamp();
        var id = "backup-" + time.GetUtcNow().ToString("yyyyMMdd'T'HHmmssfff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var provider = For(db);
        var file = id + provider.Extension + (Encrypts ? ".enc" : "");
        progress?.Report($"Backing up the {Name(provider.Provider)} database to {Folder}{(Encrypts ? ", encrypted" : "")}");
        BackupManifest manifest;
        try
        {
            var plain = _folder.File(id + provider.Extension + ".partial");
            OwnerOnlyFile.Touch(plain); // the tools write into it and keep its mode: never readable by others, not even for a moment
            var snapshot = await provider.BackUpAsync(db, plain, progress, cancellationToken);
            if (_key.Value is { } key)
            {
                await BackupEncryption.EncryptAsync(plain, _folder.File(file), key, cancellationToken);
                File.Delete(plain);
            }
            else File.Move(plain, _folder.File(file));
            var path = _folder.File(file);
            manifest = new BackupManifest(id, time.GetUtcNow(), provider.Provider, snapshot.SchemaVersion, file, new FileInfo(path).Length,
                await Sha256Async(path, cancellationToken), snapshot.RowCounts, snapshot.TableChecksums, 0)
            {
                Encryption = Encrypts ? BackupEncryption.Scheme : null, EncryptionKeyId = _key.Value is { } k ? BackupEncryption.KeyId(k) : null,
            };
        }
        catch (Exception e)
        {
            _folder.DeleteLeftovers(id);
            if (e is not OperationCanceledException)
                await audit.RecordAsync(db, AuditActor.System, AuditActions.BackupFailed, $"backup:{id}", "failure", new { error = e.Message }, cancellationToken: CancellationToken.None);
            throw;
        }
        manifest = manifest with { DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds };
        var restoreTest = options.Value.RestoreTestEvery > 0 && List().Count % options.Value.RestoreTestEvery == 0;
        try
        {
            manifest = manifest with { Verification = await VerifyAsync(manifest, restoreTest, progress, cancellationToken) };
        }
        catch (OperationCanceledException)
        {
            _folder.DeleteLeftovers(id);
            throw;
        }
        await _folder.WriteManifestAsync(manifest);
        var rows = manifest.RowCounts.Values.Sum();
        await audit.RecordAsync(db, AuditActor.System, manifest.Verification.Ok ? AuditActions.BackupCreated : AuditActions.BackupFailed, $"backup:{id}",
            manifest.Verification.Ok ? "success" : "failure",
            new { manifest.File, manifest.SizeBytes, manifest.SchemaVersion, rows, manifest.Encryption, manifest.Verification }, cancellationToken: CancellationToken.None);
        LogBackedUp(id, manifest.SizeBytes, rows, manifest.Verification.Ok, manifest.Verification.Detail);
        Prune();
        return manifest;
    }

    /// <summary>Checksum always; then the provider's restore test, when due or cheap, compared with the manifest.</summary>
    public async Task<BackupVerification> VerifyAsync(BackupManifest manifest, bool restoreTest, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var path = _folder.File(manifest.File);
        if (!File.Exists(path)) return new BackupVerification(now, false, false, $"{manifest.File} is missing.");
        if (await Sha256Async(path, cancellationToken) != manifest.Sha256) return new BackupVerification(now, false, false, "The file's checksum does not match its manifest.");
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var provider = providers.Single(p => p.Provider == manifest.Provider);
        if (!restoreTest && !provider.RestoreTestsEveryBackup) return new BackupVerification(now, true, false, "Checksum matches; restore test not due.");
        try
        {
            await using var plain = await PlainAsync(manifest, cancellationToken);
            return Compare(manifest, await provider.RestoreTestAsync(db, plain.Path, progress, cancellationToken)) is { } mismatch
                ? new BackupVerification(time.GetUtcNow(), false, true, mismatch)
                : new BackupVerification(time.GetUtcNow(), true, true, $"Restored copy matches the manifest: {manifest.RowCounts.Count} tables, {manifest.RowCounts.Values.Sum()} rows.");
        }
        catch (Exception e) when (e is InvalidOperationException or System.Data.Common.DbException or IOException or System.ComponentModel.Win32Exception)
        {
            return new BackupVerification(time.GetUtcNow(), false, false, $"Could not verify: {e.Message}");
        }
    }

    /// <summary>
    /// Restores a backup in place of the current database: provider, checksum and schema version checked first, restored
    /// into a new file or database, verified against the manifest, and only then switched in (the previous database is
    /// kept, renamed). Run with every instance stopped. <paramref name="idOrFile"/> is a backup's id or file name, never a path.
    /// </summary>
    public async Task<BackupManifest> RestoreAsync(string idOrFile, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        if (!BackupFolder.IsFileName(idOrFile))
            throw new InvalidOperationException($"'{idOrFile}' is not a backup's id or file name; give it as 'agentry backups list' shows it, without a folder.");
        var manifest = List().FirstOrDefault(m => m.Id == idOrFile || m.File == idOrFile)
            ?? throw new InvalidOperationException($"No backup '{idOrFile}' in {Folder}.");
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var provider = For(db);
        // The provider first: a PostgreSQL backup is not "from another build" on a SQLite installation, it is the wrong kind.
        if (manifest.Provider != provider.Provider)
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: it is a {Name(manifest.Provider)} backup and this installation uses {Name(provider.Provider)}.");
        var path = _folder.File(manifest.File);
        progress?.Report($"Checking {manifest.File}");
        if (!File.Exists(path) || await Sha256Async(path, cancellationToken) != manifest.Sha256)
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: its file is missing or its checksum does not match the manifest.");
        var known = db.Database.GetMigrations().ToList();
        if (!known.Contains(manifest.SchemaVersion))
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: its schema version {manifest.SchemaVersion} is unknown to this build (latest {known.LastOrDefault()}); restore it with the build that made it.");

        var stamp = time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        string kept;
        await using (var plain = await PlainAsync(manifest, cancellationToken))
            kept = await provider.RestoreAsync(db, plain.Path, snapshot => Compare(manifest, snapshot), stamp, progress, cancellationToken);
        progress?.Report($"Restored {manifest.Id}; the previous database is kept as {Path.GetFileName(kept)}");
        await using var after = scopes.CreateAsyncScope();
        await audit.RecordAsync(after.ServiceProvider.GetRequiredService<AgentryDbContext>(), AuditActor.System, AuditActions.BackupRestored, $"backup:{manifest.Id}", "success",
            new { manifest.File, manifest.SchemaVersion, previous = Path.GetFileName(kept) }, cancellationToken: CancellationToken.None);
        return manifest;
    }

    /// <summary>The backup's plain file: itself, or a decrypted copy (0600, beside it) deleted when disposed.</summary>
    async Task<PlainFile> PlainAsync(BackupManifest manifest, CancellationToken cancellationToken)
    {
        var path = _folder.File(manifest.File);
        if (manifest.Encryption is null) return new PlainFile(path, Temporary: false);
        if (manifest.Encryption != BackupEncryption.Scheme) throw new InvalidOperationException($"{manifest.Id} is encrypted with '{manifest.Encryption}', which this build does not know.");
        var key = _key.Value ?? throw new InvalidOperationException(
            $"{manifest.Id} is encrypted (backup key {manifest.EncryptionKeyId}); set Backup:EncryptionKey (AGENTRY_BACKUP_KEY) or Backup:EncryptionKeyFile to that key.");
        if (manifest.EncryptionKeyId is { } id && id != BackupEncryption.KeyId(key))
            throw new InvalidOperationException($"{manifest.Id} was encrypted with backup key {id}; the configured key is {BackupEncryption.KeyId(key)}.");
        var plain = _folder.File($"{manifest.Id}.decrypted-{Guid.NewGuid():N}");
        try
        {
            await BackupEncryption.DecryptAsync(path, plain, key, cancellationToken);
        }
        catch
        {
            BackupFolder.TryDelete(plain);
            throw;
        }
        return new PlainFile(plain, Temporary: true);
    }

    sealed record PlainFile(string Path, bool Temporary) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            if (Temporary) BackupFolder.TryDelete(Path);
            return ValueTask.CompletedTask;
        }
    }

    IDatabaseBackup For(AgentryDbContext db) => providers.Single(p => p.Provider == (db.IsSqlite() ? DataOptions.Sqlite : DataOptions.Postgres));

    static string Name(string provider) => provider == DataOptions.Postgres ? "PostgreSQL" : "SQLite";

    /// <summary>Why the restored copy is not what the manifest describes, or null when every table matches.</summary>
    static string? Compare(BackupManifest manifest, BackupSnapshot snapshot)
    {
        foreach (var (table, expected) in manifest.RowCounts)
        {
            if (snapshot.RowCounts.GetValueOrDefault(table) != expected) return $"Table {table}: {snapshot.RowCounts.GetValueOrDefault(table)} row(s), manifest says {expected}.";
            if (snapshot.TableChecksums.GetValueOrDefault(table) != manifest.TableChecksums.GetValueOrDefault(table)) return $"Table {table}: content differs from the manifest.";
        }
        return null;
    }

    /// <summary>Keeps the newest <see cref="BackupOptions.Retention"/> verified backups and, for diagnosis, the newest failed one.</summary>
    void Prune()
    {
        var all = List();
        foreach (var old in all.Where(m => m.Verification is { Ok: true }).Skip(options.Value.Retention).Concat(all.Where(m => m.Verification is not { Ok: true }).Skip(1)))
            _folder.Delete(old);
    }

    static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    [LoggerMessage(EventId = 8100, Level = LogLevel.Information, Message = "Backup {Id}: {Bytes} bytes, {Rows} rows, verified {Verified} ({Detail})")]
    partial void LogBackedUp(string id, long bytes, long rows, bool verified, string detail);

    [LoggerMessage(EventId = 8101, Level = LogLevel.Warning, Message = "Backup manifest {File} cannot be read, or names a file outside the backup folder; it is ignored")]
    partial void LogUnreadableManifest(Exception? exception, string file);
}

/// <summary>A backup is already being taken by this instance.</summary>
public sealed class BackupInProgressException() : InvalidOperationException("A backup is being taken right now; try again when it is done.");
