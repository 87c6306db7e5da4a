#!/usr/bin/env bash
# ./run.sh [hoard serve options] — installs what is missing, builds, and runs the control plane in the foreground.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v dotnet >/dev/null 2>&1; then
  echo "run.sh: the .NET 10 SDK (dotnet) is required; see https://dot.net" >&2
  exit 1
fi
# The datastores: redis-server, PostgreSQL and MariaDB servers with their clients; setsid and setpriv
# (util-linux) detach guest agents and run database servers as their own users.
"$here/scripts/ensure-packages.sh" redis-server:redis-server redis-cli:redis-tools setsid:util-linux setpriv:util-linux \
  /usr/lib/postgresql/15/bin/postgres:postgresql psql:postgresql-client \
  mariadbd:mariadb-server mariadb-install-db:mariadb-server mariadb:mariadb-client
exec "$here/hoard" serve "$@"
