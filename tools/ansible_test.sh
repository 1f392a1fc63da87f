#!/usr/bin/env bash
# ansible-test on a real copy of the collection (ansible-test refuses symlinks and needs the
# ansible_collections/<ns>/<name> layout), with the offline get-pip stand-in in its cache.
#   tools/ansible_test.sh sanity --python 3.11
#   tools/ansible_test.sh units --python 3.11 tests/unit/plugins/module_utils
# ANSIBLE_TEST_VENV chooses the virtualenv whose ansible-test runs (default: the repository's .venv).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv="${ANSIBLE_TEST_VENV:-$repo/.venv}"
command=${1:?usage: tools/ansible_test.sh sanity|units [ansible-test options]}
shift
work="$repo/.cache/ansible-test-$command"
dest="$work/ansible_collections/cjj365/certctrl"

pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/tools/get_pip_standin.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

rm -rf "$work"
mkdir -p "$dest"
# Sanity checks what is tracked (git ls-files), like ansible-test does in a git checkout.
cd "$repo"
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  if [ -e "$f" ]; then printf '%s\0' "$f"; fi
done | xargs -0 cp --parents -t "$dest"
cd "$dest"
git init -q . && git add -A >/dev/null
PATH="$venv/bin:$PATH" ansible-test "$command" --venv --color no "$@"
