#!/usr/bin/env bash
# bench/run.sh [COUNT] [INSTANCES] — issue 2's benchmarks; figures go to artifacts/bench-latest.txt and belong in docs/PERFORMANCE.md.
# bench/run.sh sql [COUNT]          — issue 3's: PostgreSQL and MariaDB create -> ACTIVE beside the raw engine bootstrap (artifacts/bench-sql-latest.txt).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/ensure-packages.sh redis-server:redis-server redis-cli:redis-tools wrk:wrk setpriv:util-linux \
  /usr/lib/postgresql/15/bin/postgres:postgresql mariadbd:mariadb-server mariadb-install-db:mariadb-server
dotnet publish src/Hoard.Cli/Hoard.Cli.csproj -c Release -o artifacts/bin --nologo -v quiet
export HOARD_BIN="$here/artifacts/bin/hoard"
if [ "${1:-}" = "sql" ]; then
  exec dotnet run -c Release --project bench/Hoard.Bench -- sql "${2:-10}"
fi
dotnet run -c Release --project bench/Hoard.Bench -- "${1:-20}" "${2:-100}"
