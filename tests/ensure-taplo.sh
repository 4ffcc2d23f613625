#!/usr/bin/env bash
# Installs taplo (the TOML toolkit whose language server VS Code's Even Better TOML runs)
# from crates.io into .tools/, once: tests/stack_schema.rs runs `taplo check` with infra's
# JSON Schema over every stack file. A no-op when the pinned version is there. Built with
# only the `lint` feature (schema validation) and rustls: the check needs no language
# server, and the schema is a local file.
set -euo pipefail

VERSION=0.10.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
log() { printf 'ensure-taplo: %s\n' "$*" >&2; }

if [[ -x "$tools/bin/taplo" ]] && "$tools/bin/taplo" --version 2>/dev/null | grep -qx "taplo $VERSION"; then
    exit 0
fi
mkdir -p "$tools"
# One installer at a time: tests start in parallel.
exec 9>"$tools/.taplo.lock"
flock 9
if [[ -x "$tools/bin/taplo" ]] && "$tools/bin/taplo" --version 2>/dev/null | grep -qx "taplo $VERSION"; then
    exit 0
fi
log "installing taplo-cli $VERSION from crates.io into $tools (once; a few minutes)"
cargo install taplo-cli --version "$VERSION" --locked --no-default-features --features lint,rustls-tls \
    --root "$tools" --target-dir "$tools/build" >&2
rm -rf "$tools/build"
