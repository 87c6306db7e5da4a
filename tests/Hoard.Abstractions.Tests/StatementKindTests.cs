using Hoard.Abstractions.Tracing;
using Xunit;

namespace Hoard.Abstractions.Tests;

/// <summary>A datastore command point's "command" tag: the statement's kind, never its text (which can hold a password).</summary>
public sealed class StatementKindTests
{
    [Theory]
    [InlineData("SELECT 1", "SELECT")]
    [InlineData("  select * from t", "SELECT")]
    [InlineData("CREATE ROLE alice PASSWORD 'Secret-pw'", "CREATE ROLE")]
    [InlineData("create\tuser 'bob'@'%' IDENTIFIED BY 'pw'", "CREATE USER")]
    [InlineData("ALTER USER \"x\" WITH PASSWORD 'pw'", "ALTER USER")]
    [InlineData("DROP DATABASE IF EXISTS d", "DROP DATABASE")]
    [InlineData("DROP \"quoted\"", "DROP")]
    [InlineData("CREATE", "CREATE")]
    [InlineData("GET key", "GET")]
    [InlineData("Ping", "PING")]
    [InlineData("pg_terminate_backend(1)", "?")]
    [InlineData("(SELECT 1)", "?")]
    [InlineData("", "?")]
    [InlineData("   \n ", "?")]
    [InlineData("Écrire x", "?")]
    [InlineData("reindex table t", "REINDEX")]
    public void The_kind_is_the_first_word_and_for_ddl_its_object(string sql, string kind)
    {
        Assert.Equal(kind, HoardTracing.StatementKind(sql));
        Assert.Equal(Reference(sql), HoardTracing.StatementKind(sql));
    }

    [Fact]
    public void A_very_long_first_word_is_still_its_kind_and_no_password_follows_it()
    {
        var word = new string('a', 100);
        Assert.Equal(word.ToUpperInvariant(), HoardTracing.StatementKind(word + " PASSWORD 'pw'"));
    }

    /// <summary>The tag as first defined: split off two words, upper-case them.</summary>
    private static string Reference(string sql)
    {
        var words = sql.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
        static bool IsWord(string w) => w.Length > 0 && w.All(char.IsAsciiLetter);
        var verb = words.Length > 0 && IsWord(words[0]) ? words[0].ToUpperInvariant() : "?";
        if (verb is "CREATE" or "ALTER" or "DROP" && words.Length > 1 && IsWord(words[1]))
        {
            verb += " " + words[1].ToUpperInvariant();
        }

        return verb;
    }
}
