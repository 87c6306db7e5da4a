#!/usr/bin/env bash
# ensure-packages.sh CMD:PACKAGE ... — installs a Debian package for each command that is missing.
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd="${pair%%:*}"; pkg="${pair#*:}"
  # A command name is looked up on PATH; a path (with a slash) must exist.
  if [[ "$cmd" == */* ]]; then
    [ -e "$cmd" ] || missing+=("$pkg")
  elif ! command -v "$cmd" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
