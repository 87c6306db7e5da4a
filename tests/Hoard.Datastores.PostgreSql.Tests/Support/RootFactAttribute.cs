namespace Hoard.Datastores.PostgreSql.Tests.Support;

/// <summary>A PostgreSQL fact about running as root (the engine user, directory permissions); skipped otherwise. CI runs as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root")
        {
            Skip = "only meaningful when the agent runs as root (as in CI)";
        }
        else if (new PostgresFactAttribute().Skip is { } skip)
        {
            Skip = skip;
        }
    }
}
