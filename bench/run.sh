#!/usr/bin/env bash
# bench/run.sh [COUNT] [INSTANCES] — issue 2's benchmarks; figures go to artifacts/bench-latest.txt and belong in docs/PERFORMANCE.md.
# bench/run.sh sql [COUNT]          — issue 3's: PostgreSQL and MariaDB create -> ACTIVE beside the raw engine bootstrap (artifacts/bench-sql-latest.txt).
# bench/run.sh cluster [ROUNDS] [REBALANCES]
#                                   — Redis Cluster: create (3 masters; 3 + 3 replicas) -> ready over ROUNDS (default 5), and the
#                                     keys/s of a rebalance of 1,000,000 keys onto a 4th master, beside redis-cli --cluster in the
#                                     same run (artifacts/bench-cluster-latest.txt).
# bench/run.sh cluster-raw [ROUNDS] [REBALANCES]
#                                   — the redis-cli half alone; builds no hoard.
# bench/run.sh store [COUNT] [ROUNDS]
#                                   — issue 5's: the management store's pools, flavors and catalogue (COUNT of each, default 5000),
#                                     one client, on SQLite, PostgreSQL and Redis, beside Zaqar's own Redis controllers run by
#                                     Debian's /usr/bin/python3 in the same run; medians over ROUNDS (default 3)
#                                     (artifacts/bench-store-latest.txt). Builds no hoard.
# bench/run.sh replicas [COUNT]     — issue 5's: instance creates/s (acknowledged and ACTIVE) by one hoard serve and by two replicas
#                                     over one Redis store, then one PostgreSQL store; COUNT creates per run (default 100)
#                                     (artifacts/bench-replicas-latest.txt).
# bench/run.sh backup [MB] [ROUNDS] — issue 6's: backup and restore of about MB (default 1024) per datastore (Redis, PostgreSQL,
#                                     MariaDB) through the API, beside redis-cli BGSAVE + cp, pg_basebackup and mariadb-backup on the
#                                     same data in the same run; medians over ROUNDS (default 3) (artifacts/bench-backup-latest.txt).
# bench/run.sh seal [MB] [ROUNDS]   — where the sealer's time goes: Deflate (and the BCL's other codecs), AES-256-GCM, SHA-256 and
#                                     copies timed apart on one thread over MB of database-like pages and of random bytes, then
#                                     BackupEnvelope seal and open memory to memory; best of ROUNDS (artifacts/bench-seal-latest.txt).
#                                     Builds no hoard, starts no engine.
# bench/run.sh trace [N] [PN]       — issue 7's: cost per trace point (start + stop) through Hoard's tracing API and Profiler,
#                                     sampled into the Redis driver (caller time, writer drain and points/s apart) and into a no-op
#                                     driver, enabled but not sampled, and off; N points a round (default 200000), best of 3; then
#                                     OSProfiler measured the same way by bench/osprofiler_cost.py with Debian's /usr/bin/python3
#                                     (PN points, default 20000) against the same redis-server on 127.0.0.1 and a free port; one
#                                     table side by side (artifacts/bench-trace-latest.txt). Builds no hoard.
# bench/run.sh metrics [S] [R]      — issue 7's: what /metrics costs a request: GET /instances under wrk (16 connections) against two
#                                     hoard serve, metrics on and off, S seconds a run (default 10), R rounds alternating (default 3);
#                                     then one scrape's time and size (artifacts/bench-metrics-latest.txt).
# The cluster and backup modes keep their temp dirs (and hoard serve's data dir) in $TMPDIR, by default /var/tmp/hoard-bench (mode 1777).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/ensure-packages.sh redis-server:redis-server redis-cli:redis-tools wrk:wrk setpriv:util-linux \
  /usr/lib/postgresql/15/bin/postgres:postgresql mariadbd:mariadb-server mariadb-install-db:mariadb-server
case "${1:-}" in
  cluster|cluster-raw|backup)
    if [ -z "${TMPDIR:-}" ]; then
      export TMPDIR=/var/tmp/hoard-bench
      mkdir -p "$TMPDIR"
      chmod 1777 "$TMPDIR"
    fi
    ;;
esac
if [ "${1:-}" = "store" ]; then
  scripts/ensure-packages.sh /usr/bin/python3:python3 \
    /usr/lib/python3/dist-packages/zaqar/storage/redis/pools.py:python3-zaqar \
    /usr/lib/python3/dist-packages/redis/__init__.py:python3-redis
  exec dotnet run -c Release --project bench/Hoard.Bench -- store "${2:-5000}" "${3:-3}"
fi
if [ "${1:-}" = "trace" ]; then
  scripts/ensure-packages.sh /usr/bin/python3:python3 \
    /usr/lib/python3/dist-packages/osprofiler/profiler.py:python3-osprofiler \
    /usr/lib/python3/dist-packages/redis/__init__.py:python3-redis
  exec dotnet run -c Release --project bench/Hoard.Bench -- trace "${2:-200000}" "${3:-20000}"
fi
if [ "${1:-}" = "seal" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- seal "${2:-1024}" "${3:-3}"
fi
if [ "${1:-}" = "cluster-raw" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- cluster-raw "${2:-5}" "${3:-1}"
fi
dotnet publish src/Hoard.Cli/Hoard.Cli.csproj -c Release -o artifacts/bin --nologo -v quiet
export HOARD_BIN="$here/artifacts/bin/hoard"
if [ "${1:-}" = "metrics" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- metrics "${2:-10}" "${3:-3}"
fi
if [ "${1:-}" = "replicas" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- replicas "${2:-100}"
fi
if [ "${1:-}" = "sql" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- sql "${2:-10}"
fi
if [ "${1:-}" = "backup" ]; then
  scripts/ensure-packages.sh /usr/lib/postgresql/15/bin/pg_basebackup:postgresql-client-15 mariadb-backup:mariadb-backup mbstream:mariadb-backup
  exec dotnet run -c Release --project bench/Hoard.Bench -- backup "${2:-1024}" "${3:-3}"
fi
if [ "${1:-}" = "cluster" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- cluster "${2:-5}" "${3:-1}"
fi
dotnet run -c Release --project bench/Hoard.Bench -- "${1:-20}" "${2:-100}"
