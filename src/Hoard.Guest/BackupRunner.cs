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
        var incremental = backups as IIncrementalBackups;
        if (args.ParentId is not null && (incremental is null || args.ParentResumePoint is null))
        {
            throw incremental is null
                ? DatastoreOperationException.NotSupported($"The {instance.Datastore} datastore takes no incremental backups.")
                : DatastoreOperationException.Invalid($"Backup {args.ParentId} records no point an incremental backup can start from; take a full backup.");
        }

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
                    return incremental is null
                        ? new BackupOutput(await backups.BackupAsync(instance, pipeIn, failed.Token), string.Empty)
                        : await incremental.BackupAsync(instance, args.ParentResumePoint, pipeIn, failed.Token);
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
        var output = await produce;
        if (output.Bytes != sealedBackup.PlaintextBytes)
        {
            throw new InvalidOperationException($"the {instance.Datastore} backup wrote {output.Bytes} bytes but {sealedBackup.PlaintextBytes} were sealed");
        }

        var resumePoint = output.ResumePoint.Length == 0 ? null : output.ResumePoint;
        var metadata = BackupMetadata.From(sealedBackup, instance.Datastore, instance.Version, DateTimeOffset.UtcNow, args.ParentId, resumePoint);
        var location = await write.CommitAsync(metadata, cancellationToken);
        return new BackupResult(location.AbsoluteUri, sealedBackup.StoredBytes, sealedBackup.Sha256, sealedBackup.PlaintextBytes, resumePoint);
    }

    /// <summary>
    /// Restores a backup, and for an incremental one the chain under it: every link is checked whole (checksum, key,
    /// every chunk) into a private file first, so a chain with one bad link is refused before the engine sees any.
    /// </summary>
    public static async Task RestoreAsync(IDatastoreBackups backups, GuestInstance instance, RestoreBackupArguments args, CancellationToken cancellationToken)
    {
        IIncrementalBackups? incremental = null;
        if (args.Ancestors.Count > 0 && (incremental = backups as IIncrementalBackups) is null)
        {
            throw DatastoreOperationException.NotSupported($"The {instance.Datastore} datastore restores no incremental backups.");
        }

        var storage = BackupStorageConnection.Open(args.Storage);
        var key = BackupKey.FromConfiguration(args.Key);
        List<StoredBackupRef> chain = [.. args.Ancestors, new StoredBackupRef(args.BackupId, args.Location, args.Checksum)];
        var plain = new List<string>();
        var inputs = new List<FileStream>();
        try
        {
            foreach (var link in chain)
            {
                var file = Path.Combine(instance.Directory, $"restore-{Guid.NewGuid():N}.data");
                plain.Add(file);
                await using var stored = link.Location.Length > 0 ? await storage.OpenReadAsync(new Uri(link.Location), cancellationToken) : await storage.OpenReadAsync(link.BackupId, cancellationToken);
                await using var output = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite, BufferSize = 1 << 20, Options = FileOptions.Asynchronous });
                try
                {
                    await BackupEnvelope.OpenAsync(stored, output, key, link.Checksum, cancellationToken);
                }
                catch (Exception e) when (chain.Count > 1 && e is not OperationCanceledException)
                {
                    throw new InvalidOperationException($"backup {link.BackupId} of the chain: {e.Message}", e);
                }
            }

            foreach (var file in plain)
            {
                inputs.Add(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true));
            }

            if (incremental is null)
            {
                await backups.RestoreAsync(instance, inputs[0], cancellationToken);
            }
            else
            {
                await incremental.RestoreChainAsync(instance, inputs, cancellationToken);
            }
        }
        finally
        {
            foreach (var input in inputs)
            {
                await input.DisposeAsync();
            }

            foreach (var file in plain)
            {
                File.Delete(file);
            }
        }
    }
}
