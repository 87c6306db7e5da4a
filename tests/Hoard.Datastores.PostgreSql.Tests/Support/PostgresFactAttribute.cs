namespace Hoard.Datastores.PostgreSql.Tests.Support;

/// <summary>
/// A fact that needs an installed PostgreSQL (Debian's /usr/lib/postgresql/MAJOR/bin). Skipped with the reason
/// when there is none, except under CI=true, where it fails: CI installs it.
/// </summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    private static readonly Lazy<bool> Installed =
        new(() => PostgreSqlInstallation.Discover(PostgreSqlInstallation.DefaultRoot).Count > 0);

    public PostgresFactAttribute()
    {
        if (!Binaries.InCi && !Installed.Value)
        {
            Skip = $"needs PostgreSQL in {PostgreSqlInstallation.DefaultRoot} (./test.sh installs postgresql-15)";
        }
    }
}
