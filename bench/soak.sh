#!/usr/bin/env bash
# bench/soak.sh [MINUTES] [MAX_RUNS] — the crash suites again and again with fresh seeds: each run SIGKILLs the control
# plane (and agents and database servers) at new random points. Stops after MINUTES (default 30) or MAX_RUNS runs
# (default 50), whichever comes first, or at the first failing run (its seed is printed; rerun it with
# HOARD_CRASH_SEED=SEED dotnet test tests/Hoard.Cli.Tests --filter …). Figures of every run are appended to
# artifacts/soak/figures.jsonl, one log per run beside it; the last line sums runs, seeds and failures.
# ./test.sh runs each crash suite once; this is the longer soak the issue allows outside CI.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
minutes="${1:-30}"
max_runs="${2:-50}"
scripts/ensure-packages.sh redis-server:redis-server redis-cli:redis-tools setsid:util-linux setpriv:util-linux \
  /usr/lib/postgresql/15/bin/postgres:postgresql psql:postgresql-client \
  mariadbd:mariadb-server mariadb-install-db:mariadb-server mariadb:mariadb-client mariadb-backup:mariadb-backup
dotnet build Hoard.slnx -c Release --nologo -v quiet
dotnet publish src/Hoard.Cli/Hoard.Cli.csproj -c Release -o artifacts/bin --nologo -v quiet
export HOARD_BIN="$here/artifacts/bin/hoard"
out="$here/artifacts/soak"
mkdir -p "$out"
export HOARD_FIGURES="$out/figures.jsonl"
filter="FullyQualifiedName~CrashSuiteTests|FullyQualifiedName~ClusterCrashTests|FullyQualifiedName~EngineFaultTests"
end=$(( $(date +%s) + minutes * 60 ))
runs=0
seeds=()
while (( runs < max_runs && $(date +%s) < end )); do
  seed=$(( (RANDOM << 15) | RANDOM ))
  runs=$(( runs + 1 ))
  seeds+=("$seed")
  echo "run $runs: HOARD_CRASH_SEED=$seed"
  if ! HOARD_CRASH_SEED="$seed" timeout 900 dotnet test tests/Hoard.Cli.Tests -c Release --no-build --nologo \
      --filter "$filter" --logger "console;verbosity=normal" >"$out/run-$runs-seed-$seed.log" 2>&1; then
    echo "soak: run $runs failed with HOARD_CRASH_SEED=$seed; see $out/run-$runs-seed-$seed.log"
    exit 1
  fi
done
echo "soak: $runs runs, 0 failed, seeds ${seeds[*]}; figures in $HOARD_FIGURES"
