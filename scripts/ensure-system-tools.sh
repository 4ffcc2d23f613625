#!/usr/bin/env bash
# Installs the system tools the deploy bundle's tests (tests/bundle.rs) run for real and
# that a fresh machine of ours may lack: xfsprogs (mkfs.xfs, xfs_growfs: the data volume's
# filesystem on the host). A no-op when they are there. Installs with apt-get (Debian's
# packages) when run as root; otherwise says what to install and fails.
# The rest of what those tests run comes with the machine (util-linux: losetup, mount,
# blkid; e2fsprogs: mkfs.ext4; systemd's fstab generator) or from PyPI (.venv/).
set -euo pipefail

log() { printf 'ensure-system-tools: %s\n' "$*" >&2; }

missing=()
for tool in mkfs.xfs xfs_growfs; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" || -x "/sbin/$tool" ]] || missing+=("$tool")
done
((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing xfsprogs (for ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q xfsprogs >&2 || { apt-get update -q >&2 && apt-get install -y -q xfsprogs >&2; }
    exit 0
fi
log "error: ${missing[*]} not found; install xfsprogs (Debian/Ubuntu: sudo apt-get install xfsprogs)"
exit 1
