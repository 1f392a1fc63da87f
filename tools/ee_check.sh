#!/usr/bin/env bash
# Check the execution environment: ansible-builder creates the build context of
# docs/execution-environment/, and its introspection of the installed tarball (as the container
# build runs it) finds exactly the collection's requirements.txt and no system packages.
# Runs after tools/build_check.sh, which leaves the installed tarball in .cache/build/installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="$repo/.venv/bin"
installed="$repo/.cache/build/installed"
ctx="$repo/.cache/ee-context"
[ -d "$installed/ansible_collections/cjj365/certctrl" ] || { echo "error: run tools/build_check.sh first" >&2; exit 1; }

rm -rf "$ctx"
(cd "$repo/docs/execution-environment" && "$bin/ansible-builder" create -f execution-environment.yml -c "$ctx" --output-filename Containerfile >/dev/null)
grep -q 'introspect' "$ctx/Containerfile"
grep -q 'cjj365.certctrl' "$ctx/_build/requirements.yml"

"$bin/ansible-builder" introspect "$installed" 2>/dev/null | "$bin/python" -c '
import sys, yaml
data = yaml.safe_load(sys.stdin)
want = sorted(line.split("#")[0].strip() for line in open(sys.argv[1]) if line.strip() and not line.startswith("#"))
got = sorted(line.split("#")[0].strip() for line in data.get("python") or [] if "cjj365.certctrl" in line)
if got != want:
    sys.exit(f"error: introspection found python {got}, requirements.txt has {want}")
if data.get("system"):
    sys.exit(f"error: introspection found system packages {data['"'"'system'"'"']}, bindep.txt declares none")
print(f"execution environment: build context created; introspection finds {len(got)} python requirements, 0 system packages")
' "$repo/requirements.txt"
