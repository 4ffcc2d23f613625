#!/usr/bin/env bash
# Regenerates tests/emulator/requirements.lock from tests/emulator/requirements.txt and
# tests/tools-requirements.txt: every package tests/emulator/ensure-venv.sh installs,
# pinned, with the sha256 of each of its release files on PyPI (pip-tools' pip-compile,
# pinned, in a scratch virtualenv). Run after editing either file (`make lock`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

python3 -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install --disable-pip-version-check --quiet pip-tools==7.7.0
lock=tests/emulator/requirements.lock
{
    cat <<'HEADER'
# GENERATED: every package tests/emulator/ensure-venv.sh installs, pinned, with the sha256
# of each of its release files on PyPI. pip installs it with --require-hashes, so a file
# that differs from the one pinned here (a replaced upload, a compromised mirror) is
# refused. Made from tests/emulator/requirements.txt and tests/tools-requirements.txt,
# the files to edit; after editing either, regenerate it with `make lock`.
HEADER
    "$scratch/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-header \
        --no-emit-find-links --output-file - tests/emulator/requirements.txt tests/tools-requirements.txt
} >"$scratch/lock"
mv "$scratch/lock" "$lock"
echo "wrote $lock" >&2
