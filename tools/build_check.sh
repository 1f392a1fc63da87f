#!/usr/bin/env bash
# Build the collection tarball, refuse test output / venvs / caches in it, install it into a
# scratch path and render the docs of every plugin from that install.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="$repo/.venv/bin"
out="$repo/.cache/build"
rm -rf "$out" && mkdir -p "$out"
"$bin/ansible-galaxy" collection build "$repo" --output-path "$out" --force >/dev/null
tarball=$(ls "$out"/cjj365-certctrl-*.tar.gz)
echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) entries)"
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.nox|\.cache|\.git|tools|tests/output|tests/emulator|tests/unit|tests/integration|extensions/molecule|__pycache__|\.pytest_cache)(/|$)|\.pyc$'; then
  echo "error: the tarball holds test output, a venv or a cache (listed above)" >&2
  exit 1
fi
"$bin/ansible-galaxy" collection install "$tarball" -p "$out/installed" --force >/dev/null
export ANSIBLE_COLLECTIONS_PATH="$out/installed"
count=0
for type in module lookup inventory filter; do
  for name in $("$bin/ansible-doc" -t "$type" -l cjj365.certctrl 2>/dev/null | awk '{print $1}'); do
    "$bin/ansible-doc" -t "$type" "$name" >/dev/null
    count=$((count + 1))
  done
done
"$bin/ansible-doc" -t role -l cjj365.certctrl >/dev/null
echo "ansible-doc rendered $count plugins from the installed tarball"
[ "$count" -gt 0 ]
