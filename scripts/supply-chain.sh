#!/usr/bin/env bash
# The supply chain of the Rust build, against deny.toml (cargo-deny, pinned, installed
# on first use from crates.io):
# - licenses: every crate's licence is one deny.toml allows;
# - bans: no crate from the list deny.toml bans, and no wildcard version requirement;
# - sources: every crate comes from crates.io (no git or other registry);
# - advisories: no crate with a RustSec advisory (vulnerable, unmaintained, yanked).
#   Their database is a git repository on github.com; where it cannot be fetched (a
#   machine whose network reaches only the package registries), this says so and checks
#   the other three.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
version=0.20.2

if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $version" ]]; then
    echo "supply-chain: installing cargo-deny $version" >&2
    cargo install --locked "cargo-deny@$version"
fi

cargo deny --locked check --hide-inclusion-graph licenses bans sources

if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --locked check --hide-inclusion-graph advisories
else
    echo "supply-chain: advisories NOT checked: the RustSec advisory database" \
        "(github.com/rustsec/advisory-db) cannot be fetched from this machine" >&2
fi
