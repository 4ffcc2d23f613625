#!/usr/bin/env bash
# Installs Debian's Chromium for tests/timeline.rs, which opens the apply timeline (an SVG)
# in a real browser, headless, and takes its screenshot. A no-op when `chromium` is there.
# Installs with apt-get (Debian's package) when run as root; otherwise says what to install
# and fails, and the test skips with that message.
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }

command -v chromium >/dev/null 2>&1 && exit 0
if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    exec 9>/tmp/infra-ensure-chromium.lock
    flock 9
    command -v chromium >/dev/null 2>&1 && exit 0
    log "installing chromium (Debian's package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends chromium >&2; }
    exit 0
fi
log "error: chromium not found; install it (Debian/Ubuntu: sudo apt-get install chromium)"
exit 1
