#!/usr/bin/env bash
# Copyright (c) 2026, cjj365.certctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run the molecule scenarios of the collection, one after the other: all of them, or those named.
#   extensions/molecule/run-all.sh                 # every scenario
#   extensions/molecule/run-all.sh default renewal # some
# Needs the repository's virtualenv (VENV_BIN, default <repo>/.venv/bin) and nginx on PATH; no systemd, no containers.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv_bin="${VENV_BIN:-$repo/.venv/bin}"
export PATH="$venv_bin:$PATH"

# The scenarios resolve cjj365.certctrl from <repo>/.cache/collections (see their molecule.yml).
link="$repo/.cache/collections/ansible_collections/cjj365/certctrl"
mkdir -p "$(dirname "$link")"
[ -e "$link" ] || ln -s "$repo" "$link"

if [ "$#" -gt 0 ]; then
    scenarios=("$@")
else
    scenarios=()
    for file in "$here"/*/molecule.yml; do
        scenarios+=("$(basename "$(dirname "$file")")")
    done
fi

cd "$repo/extensions"
failed=()
for scenario in "${scenarios[@]}"; do
    echo "=== molecule test -s $scenario"
    if ! molecule test -s "$scenario"; then
        failed+=("$scenario")
    fi
done

echo "=== ${#scenarios[@]} scenario(s): ${scenarios[*]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "=== FAILED: ${failed[*]}"
    exit 1
fi
echo "=== all passed"
