using System.Net.Sockets;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Tracing;
using Npgsql;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// One short connection as the agent's admin role to one database of an instance, over TCP to the
/// instance's own address. Nothing outlives it: no pool, no data source cache, no type cache (the agent
/// serves hundreds of instances and keeps nothing per instance between calls).
/// </summary>
internal sealed class AdminSession : IAsyncDisposable
{
    // Statements that fail are not written to the server log with their text (they may hold a password
    // literal), nor are statements logged at all; literals are standard (a backslash is a backslash).
    private const string SessionOptions = "-c log_min_error_statement=panic -c log_statement=none -c standard_conforming_strings=on";

    private readonly NpgsqlDataSource _dataSource;

    private AdminSession(NpgsqlDataSource dataSource, NpgsqlConnection connection, string instanceId)
    {
        _dataSource = dataSource;
        Connection = connection;
        InstanceId = instanceId;
    }

    public NpgsqlConnection Connection { get; }

    public string InstanceId { get; }

    /// <summary>Connects as the admin role with <paramref name="password"/>; the deadline covers the connect only.</summary>
    public static async Task<AdminSession> OpenAsync(
        GuestInstance instance,
        string password,
        string database,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = instance.Address,
            Port = instance.Port,
            Username = PostgreSqlSchema.AdminUser,
            Password = password,
            Database = database,
            Pooling = false,
            Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            CommandTimeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)),
            SslMode = SslMode.Disable,
            GssEncryptionMode = GssEncryptionMode.Disable,
            ApplicationName = "hoard-guest",
            Options = SessionOptions,
            IncludeErrorDetail = false,
        };
        var dataSourceBuilder = new NpgsqlSlimDataSourceBuilder(builder.ConnectionString);
        dataSourceBuilder.EnableArrays();

        // Built-in types only: loading the catalog's types would cost a query per connection.
        dataSourceBuilder.ConfigureTypeLoading(t => t.EnableTypeLoading(false));
        var dataSource = dataSourceBuilder.Build();
        NpgsqlConnection? connection = null;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            connection = dataSource.CreateConnection();
            await connection.OpenAsync(deadline.Token);
            return new AdminSession(dataSource, connection, instance.Id);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeAsync(dataSource, connection);
            throw new TimeoutException($"postgresql instance {instance.Id} at {instance.Address}:{instance.Port} did not accept the admin within {timeout.TotalSeconds:F0} s");
        }
        catch
        {
            await DisposeAsync(dataSource, connection);
            throw;
        }
    }

    /// <summary>
    /// Runs a statement with positional parameters ($1, $2, ...); returns the rows affected. An array meant as
    /// one parameter must be passed as <c>(object)array</c>, or params spreads it.
    /// </summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        using var activity = HoardTracing.StartStatement("postgresql", sql);
        try
        {
            await using var command = Command(sql, parameters);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e)
        {
            activity.RecordError(e);
            throw;
        }
    }

    /// <summary>Runs a query and reads every row with <paramref name="read"/>.</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params object[] parameters)
    {
        using var activity = HoardTracing.StartStatement("postgresql", sql);
        await using var command = Command(sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>The names among <paramref name="candidates"/> that <paramref name="catalogQuery"/> (taking them as $1) returns.</summary>
    public async Task<HashSet<string>> ExistingAsync(string catalogQuery, IEnumerable<string> candidates, CancellationToken cancellationToken) =>
        [.. await QueryAsync(catalogQuery, r => r.GetString(0), cancellationToken, (object)candidates.ToArray())];

    public async Task<NpgsqlTransaction> BeginAsync(CancellationToken cancellationToken) =>
        await Connection.BeginTransactionAsync(cancellationToken);

    public async ValueTask DisposeAsync() => await DisposeAsync(_dataSource, Connection);

    /// <summary>Whether <paramref name="e"/> means the server is not (or no longer) there, rather than a refusal.</summary>
    public static bool IsUnreachable(Exception e) =>
        e is SocketException or TimeoutException
        || (e is NpgsqlException { InnerException: SocketException or IOException or TimeoutException })
        || (e is PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.AdminShutdown });

    private NpgsqlCommand Command(string sql, object[] parameters)
    {
        var command = new NpgsqlCommand(sql, Connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return command;
    }

    private static async ValueTask DisposeAsync(NpgsqlDataSource dataSource, NpgsqlConnection? connection)
    {
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }

        await dataSource.DisposeAsync();
    }
}
