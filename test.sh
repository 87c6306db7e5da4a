#!/usr/bin/env bash
# ./test.sh [dotnet test options] — installs what the tests need and runs every test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
"$here/scripts/ensure-packages.sh" \
  redis-server:redis-server redis-cli:redis-tools setsid:util-linux setpriv:util-linux \
  /usr/lib/postgresql/15/bin/postgres:postgresql psql:postgresql-client \
  mariadbd:mariadb-server mariadb-install-db:mariadb-server mariadb:mariadb-client mariadb-backup:mariadb-backup \
  openstack:python3-openstackclient /usr/lib/python3/dist-packages/troveclient/__init__.py:python3-troveclient \
  osprofiler:python3-osprofiler /usr/lib/python3/dist-packages/redis/__init__.py:python3-redis \
  /usr/bin/chromium:chromium

dotnet build Hoard.slnx -c Release --nologo -v quiet
# The end-to-end tests run the same hoard the README's ./hoard runs.
dotnet publish src/Hoard.Cli/Hoard.Cli.csproj -c Release -o artifacts/bin --nologo -v quiet
export HOARD_BIN="$here/artifacts/bin/hoard"

results="$here/artifacts/test-results"
rm -rf "$results"
# The reliability suites record what they measured here; scripts/reliability-figures.py renders it into docs/RELIABILITY.md.
export HOARD_FIGURES="$here/artifacts/figures.jsonl"
rm -f "$HOARD_FIGURES"
status=0
dotnet test Hoard.slnx -c Release --no-build --nologo --logger "trx" --results-directory "$results" "$@" || status=$?

# One closing line for CI: totals over every test project.
python3 - "$results" <<'PY' || true
import sys, glob, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find(".//{*}Counters")
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
