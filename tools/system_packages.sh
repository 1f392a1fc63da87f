#!/usr/bin/env bash
# Install the Debian packages a target needs when their commands are missing: as root with apt,
# otherwise say what to install. With --optional, a package that can't be installed is only reported.
#   tools/system_packages.sh nginx shellcheck curl pebble
#   tools/system_packages.sh --optional pebble
set -euo pipefail
optional=false
if [ "${1:-}" = "--optional" ]; then
  optional=true
  shift
fi
export PATH="/usr/sbin:/sbin:$PATH"

missing=()
for package in "$@"; do
  command -v "$package" >/dev/null 2>&1 || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
    exit 0
  fi
fi
if $optional; then
  echo "note: not installed (needs root and apt): ${missing[*]}"
  exit 0
fi
echo "error: missing system packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
exit 1
