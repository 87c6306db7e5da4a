using System.Security.Cryptography;
using Hoard.Abstractions.Backups;
using Xunit;

namespace Hoard.Abstractions.Tests;

public sealed class FileBackupStorageTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnlyFile | UnixFileMode.UserExecute;

    private readonly TempDirectory _directory = new();
    private readonly BackupKey _key = BackupKey.Generate();
    private readonly string _root;
    private readonly IBackupStorage _storage;

    public FileBackupStorageTests()
    {
        _root = Path.Combine(_directory.Path, "backups");
        _storage = BackupStorageConnection.Open(new Uri(_root).AbsoluteUri);
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_committed_backup_can_be_read_by_id_and_location_and_its_metadata_is_kept()
    {
        var id = Guid.NewGuid().ToString();
        var plaintext = RandomNumberGenerator.GetBytes(3 << 20);
        var (location, metadata) = await StoreAsync(id, plaintext);

        Assert.True(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Equal(new Uri(Path.Combine(_root, id, "backup.hbk")), location);
        Assert.Equal(metadata, await _storage.ReadMetadataAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Equal(plaintext, await RestoreAsync(await _storage.OpenReadAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout), metadata.Sha256));
        Assert.Equal(plaintext, await RestoreAsync(await _storage.OpenReadAsync(location, Deadline.Token()).WaitAsync(Deadline.Timeout), metadata.Sha256));
        Assert.Equal(new[] { "backup.hbk", "metadata.json" }, Directory.GetFiles(Path.Combine(_root, id)).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Delete_removes_the_backups_folder_and_can_be_repeated()
    {
        var id = Guid.NewGuid().ToString();
        await StoreAsync(id, [1, 2, 3]);

        await _storage.DeleteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);
        await _storage.DeleteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);

        Assert.False(Directory.Exists(Path.Combine(_root, id)));
        Assert.False(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Null(await _storage.ReadMetadataAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Fact]
    public async Task Folders_are_0700_and_files_0600()
    {
        var id = Guid.NewGuid().ToString();
        await StoreAsync(id, [1, 2, 3]);

        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(_root));
        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(Path.Combine(_root, id)));
        Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(_root, id, "backup.hbk")));
        Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(_root, id, "metadata.json")));
    }

    [Fact]
    public async Task A_write_abandoned_without_commit_is_never_a_backup_and_clean_up_removes_it()
    {
        var id = Guid.NewGuid().ToString();
        var write = await _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);
        await BackupEnvelope.SealAsync(new MemoryStream(RandomNumberGenerator.GetBytes(100_000)), write.Stream, _key, Deadline.Token())
            .WaitAsync(Deadline.Timeout);

        // The process dies here: the file handle closes, nothing else happens.
        await write.Stream.DisposeAsync();

        Assert.False(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Null(await _storage.ReadMetadataAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<FileNotFoundException>(() => _storage.OpenReadAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        var left = Assert.Single(Directory.GetFiles(Path.Combine(_root, id)));
        Assert.EndsWith(".partial", left);

        await _storage.CleanUpPartialAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);

        Assert.False(Directory.Exists(Path.Combine(_root, id)));
    }

    [Fact]
    public async Task A_write_disposed_without_commit_leaves_nothing_readable_and_a_retry_succeeds()
    {
        var id = Guid.NewGuid().ToString();
        await using (var write = await _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout))
        {
            await write.Stream.WriteAsync(new byte[1000], Deadline.Token()).AsTask().WaitAsync(Deadline.Timeout);
        }

        Assert.False(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Empty(Directory.GetFiles(Path.Combine(_root, id)));

        var (_, metadata) = await StoreAsync(id, [4, 5, 6]);
        Assert.Equal([4, 5, 6], await RestoreAsync(await _storage.OpenReadAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout), metadata.Sha256));
    }

    [Fact]
    public async Task Clean_up_keeps_a_committed_backup()
    {
        var id = Guid.NewGuid().ToString();
        await StoreAsync(id, [1]);

        await _storage.CleanUpPartialAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);

        Assert.True(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Fact]
    public async Task A_committed_backup_is_not_overwritten()
    {
        var id = Guid.NewGuid().ToString();
        await StoreAsync(id, [1]);

        await Assert.ThrowsAsync<IOException>(() => _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Fact]
    public async Task Commit_refuses_metadata_whose_size_is_not_what_was_written()
    {
        var id = Guid.NewGuid().ToString();
        await using var write = await _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);
        await write.Stream.WriteAsync(new byte[10], Deadline.Token()).AsTask().WaitAsync(Deadline.Timeout);

        var metadata = new BackupMetadata(11, new string('0', 64), "redis", "7.2", 10, _key.Id, DateTimeOffset.UnixEpoch);
        await Assert.ThrowsAsync<InvalidOperationException>(() => write.CommitAsync(metadata, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.False(await _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a.partial")]
    [InlineData("/abs")]
    public async Task Ids_that_are_not_safe_path_segments_are_refused(string id)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.OpenReadAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.ExistsAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.DeleteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.CleanUpPartialAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(() => _storage.ReadMetadataAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Fact]
    public async Task A_location_outside_the_storage_root_is_refused()
    {
        File.WriteAllText(Path.Combine(_directory.Path, "backup.hbk"), "not under the root");

        await Assert.ThrowsAsync<ArgumentException>(
            () => _storage.OpenReadAsync(new Uri(Path.Combine(_directory.Path, "backup.hbk")), Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(
            () => _storage.OpenReadAsync(new Uri(Path.Combine(_root, "x", "metadata.json")), Deadline.Token()).WaitAsync(Deadline.Timeout));
        await Assert.ThrowsAsync<ArgumentException>(
            () => _storage.OpenReadAsync(new Uri("s3://bucket/x/backup.hbk"), Deadline.Token()).WaitAsync(Deadline.Timeout));
    }

    [Theory]
    [InlineData("s3://bucket/backups", "s3")]
    [InlineData("swift://container", "swift")]
    public void An_unknown_storage_scheme_is_refused_by_name(string connection, string scheme)
    {
        var e = Assert.Throws<ArgumentException>(() => BackupStorageConnection.Open(connection));
        Assert.Contains($"'{scheme}'", e.Message);
    }

    [Theory]
    [InlineData("file://otherhost/backups")]
    [InlineData("relative/path")]
    public void A_file_connection_must_name_a_local_absolute_path(string connection)
    {
        Assert.Throws<ArgumentException>(() => BackupStorageConnection.Open(connection));
    }

    [Fact]
    public void The_default_storage_is_the_data_directorys_backups_folder()
    {
        var storage = Assert.IsType<FileBackupStorage>(BackupStorageConnection.Open(BackupStorageConnection.Default(_directory.Path)));

        Assert.Equal(Path.Combine(_directory.Path, "backups"), storage.Root);
    }

    private async Task<(Uri Location, BackupMetadata Metadata)> StoreAsync(string id, byte[] plaintext)
    {
        await using var write = await _storage.BeginWriteAsync(id, Deadline.Token()).WaitAsync(Deadline.Timeout);
        var sealedBackup = await BackupEnvelope.SealAsync(new MemoryStream(plaintext), write.Stream, _key, Deadline.Token()).WaitAsync(Deadline.Timeout);
        var metadata = BackupMetadata.From(sealedBackup, "redis", "7.2.4", DateTimeOffset.UtcNow);
        var location = await write.CommitAsync(metadata, Deadline.Token()).WaitAsync(Deadline.Timeout);
        return (location, metadata);
    }

    private async Task<byte[]> RestoreAsync(Stream stored, string sha256)
    {
        await using (stored)
        {
            var plaintext = new MemoryStream();
            await BackupEnvelope.OpenAsync(stored, plaintext, _key, sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
            return plaintext.ToArray();
        }
    }
}
