#!/usr/bin/env bash
# ./run.sh [hoard serve options] — installs what is missing, builds, and runs the control plane in the foreground.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v dotnet >/dev/null 2>&1; then
  echo "run.sh: the .NET 10 SDK (dotnet) is required; see https://dot.net" >&2
  exit 1
fi
# redis-server is the datastore; setsid (util-linux) detaches guest agents from the control plane.
"$here/scripts/ensure-packages.sh" redis-server:redis-server redis-cli:redis-tools setsid:util-linux
exec "$here/hoard" serve "$@"
