#!/usr/bin/env bash
# bench/run.sh [COUNT] [INSTANCES] — issue 2's benchmarks; figures go to artifacts/bench-latest.txt and belong in docs/PERFORMANCE.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
scripts/ensure-packages.sh redis-server:redis-server redis-cli:redis-tools wrk:wrk
dotnet publish src/Hoard.Cli/Hoard.Cli.csproj -c Release -o artifacts/bin --nologo -v quiet
export HOARD_BIN="$here/artifacts/bin/hoard"
dotnet run -c Release --project bench/Hoard.Bench -- "${1:-20}" "${2:-100}"
