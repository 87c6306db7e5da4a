using System.IO.Pipes;
using Hoard.Abstractions.Backups;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;

namespace Hoard.Guest;

/// <summary>
/// The guest's half of backups: the engine's backup is piped (never held whole) through the sealer into backup storage,
/// and a restore is checked whole — checksum, key, every chunk — into a private file before the engine sees a byte.
/// </summary>
internal static class BackupRunner
{
    public static async Task<BackupResult> CreateAsync(IDatastoreBackups backups, GuestInstance instance, CreateBackupArguments args, CancellationToken cancellationToken)
    {
        var storage = BackupStorageConnection.Open(args.Storage);
        var key = BackupKey.FromConfiguration(args.Key);
        await storage.CleanUpPartialAsync(args.BackupId, cancellationToken);
        await using var write = await storage.BeginWriteAsync(args.BackupId, cancellationToken);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        // An OS pipe between the engine's writer and the sealer: bounded, so memory stays flat whatever the size.
        using var pipeIn = new AnonymousPipeServerStream(PipeDirection.Out);
        using var pipeOut = new AnonymousPipeClientStream(PipeDirection.In, pipeIn.ClientSafePipeHandle);
        var produce = Task.Run(
            async () =>
            {
                try
                {
                    return await backups.BackupAsync(instance, pipeIn, failed.Token);
                }
                finally
                {
                    pipeIn.Dispose(); // end of stream for the sealer, whatever happened
                }
            },
            CancellationToken.None);
        SealedBackup sealedBackup;
        try
        {
            sealedBackup = await BackupEnvelope.SealAsync(pipeOut, write.Stream, key, failed.Token);
        }
        catch
        {
            await failed.CancelAsync(); // unblock the engine's writer
            await produce.ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }

        // Only a backup whose engine side finished is committed: a writer that failed ended the pipe early, and what
        // was sealed is a prefix, not a backup.
        var plaintext = await produce;
        if (plaintext != sealedBackup.PlaintextBytes)
        {
            throw new InvalidOperationException($"the {instance.Datastore} backup wrote {plaintext} bytes but {sealedBackup.PlaintextBytes} were sealed");
        }

        var location = await write.CommitAsync(BackupMetadata.From(sealedBackup, instance.Datastore, instance.Version, DateTimeOffset.UtcNow), cancellationToken);
        return new BackupResult(location.AbsoluteUri, sealedBackup.StoredBytes, sealedBackup.Sha256, sealedBackup.PlaintextBytes);
    }

    public static async Task RestoreAsync(IDatastoreBackups backups, GuestInstance instance, RestoreBackupArguments args, CancellationToken cancellationToken)
    {
        var storage = BackupStorageConnection.Open(args.Storage);
        var key = BackupKey.FromConfiguration(args.Key);
        var plain = Path.Combine(instance.Directory, $"restore-{Guid.NewGuid():N}.data");
        try
        {
            await using (var stored = args.Location.Length > 0 ? await storage.OpenReadAsync(new Uri(args.Location), cancellationToken) : await storage.OpenReadAsync(args.BackupId, cancellationToken))
            await using (var output = new FileStream(plain, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, BufferSize = 1 << 20, Options = FileOptions.Asynchronous }))
            {
                await BackupEnvelope.OpenAsync(stored, output, key, args.Checksum, cancellationToken);
            }

            await using var input = new FileStream(plain, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
            await backups.RestoreAsync(instance, input, cancellationToken);
        }
        finally
        {
            File.Delete(plain);
        }
    }
}
