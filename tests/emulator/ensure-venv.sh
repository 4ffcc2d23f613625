#!/usr/bin/env bash
# Creates the project-local virtualenv .venv/ (at the repository root) and installs
# tests/emulator/requirements.txt (the emulator) and tests/tools-requirements.txt (the real
# tools the deploy bundle's tests run: redis, shellcheck, compose, aws) into it, only when
# the venv is missing or broken, or when either file changed since the last successful
# install. It installs them from tests/emulator/requirements.lock, generated from both
# with every release file's sha256, with pip's --require-hashes: a file whose hash differs
# is refused. A lock that no longer pins what the two files pin is refused too.
#
# Idempotent and safe to run from several processes at once (parallel test binaries):
# the install is serialised with a lock, and the stamp that marks it complete is written
# last, atomically. Needs only python3 (with pip, or with the venv module's ensurepip).
# All output goes to stderr, so callers may parse stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
req="$here/requirements.txt"
tools_req="$root/tests/tools-requirements.txt"
lock="$here/requirements.lock"
stamp="$venv/.infra-requirements.stamp"
py="$venv/bin/python"
host_python="${PYTHON:-python3}"

log() { printf 'ensure-venv: %s\n' "$*" >&2; }

# The stamp records what was installed: the hash of the requirements files and the lock,
# and the interpreter version.
wanted_stamp() {
    "$host_python" - "$req" "$tools_req" "$lock" <<'PY'
import hashlib, sys
digest = hashlib.sha256()
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        digest.update(hashlib.sha256(f.read()).digest())
print(f"requirements-sha256={digest.hexdigest()} python={sys.version_info[0]}.{sys.version_info[1]}")
PY
}

up_to_date() {
    [[ -x "$py" && -f "$stamp" ]] || return 1
    [[ "$(cat "$stamp")" == "$want" ]] || return 1
    # Cheaper than importing moto (which takes most of a second).
    compgen -G "$venv/lib/python*/site-packages/moto/server.py" >/dev/null &&
        [[ -x "$venv/bin/redis-server" && -x "$venv/bin/shellcheck" ]]
}

if ! command -v "$host_python" >/dev/null 2>&1; then
    log "error: $host_python not found; install Python 3 (3.9 or newer)"
    exit 1
fi

# Every `name==version` the two files pin must be what the lock pins.
check_lock() {
    "$host_python" - "$req" "$tools_req" "$lock" <<'PY'
import re, sys
def pins(path):
    out = {}
    for line in open(path):
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^ \\;]+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out
wanted = {**pins(sys.argv[1]), **pins(sys.argv[2])}
locked = pins(sys.argv[3])
stale = [f"{n}=={v} (the lock has {locked.get(n, 'nothing')})" for n, v in sorted(wanted.items()) if locked.get(n) != v]
if stale:
    print(f"ensure-venv: error: {sys.argv[3]} is stale: " + ", ".join(stale) + "; run `make lock`", file=sys.stderr)
    sys.exit(1)
PY
}

want="$(wanted_stamp)"

# Fast path, no lock: the stamp only exists once an install completed.
if up_to_date; then
    exit 0
fi

# The lock lives outside .venv/, which `venv --clear` may wipe while others wait on it.
venv_id="$(printf '%s' "$venv" | cksum | cut -d' ' -f1)"
lockfile="${TMPDIR:-/tmp}/infra-ensure-venv-$venv_id.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$lockfile"
    flock 9
else
    # No flock (macOS): a mkdir lock; a lock older than 15 minutes is assumed stale.
    lockdir="$lockfile.d"
    until mkdir "$lockdir" 2>/dev/null; do
        if [[ -n "$(find "$lockdir" -maxdepth 0 -mmin +15 2>/dev/null)" ]]; then
            rmdir "$lockdir" 2>/dev/null || true
            continue
        fi
        sleep 1
    done
    trap 'rmdir "$lockdir" 2>/dev/null || true' EXIT
fi

# Somebody else may have finished the install while we waited for the lock.
if up_to_date; then
    exit 0
fi

rm -f "$stamp"
check_lock

if ! [[ -x "$py" ]] || ! "$py" -c 'import sys' >/dev/null 2>&1; then
    log "creating virtualenv $venv"
    # --clear: a venv whose interpreter is gone or broken is rebuilt from scratch.
    if ! "$host_python" -m venv --clear "$venv" >&2; then
        # Debian/Ubuntu without python3-venv have no ensurepip: create the venv without
        # pip and install into it with the host's pip (see below).
        log "python3 -m venv failed; retrying without pip"
        "$host_python" -m venv --clear --without-pip "$venv" >&2
    fi
fi

if "$py" -m pip --version >/dev/null 2>&1; then
    pip=("$py" -m pip)
elif "$host_python" -m pip --version >/dev/null 2>&1; then
    # pip >= 22.3 can install into another interpreter's environment.
    pip=("$host_python" -m pip --python "$py")
else
    log "error: neither the venv nor $host_python has pip; install python3-pip or python3-venv"
    exit 1
fi

log "installing $(basename "$lock") (from $(basename "$req") and $(basename "$tools_req")) into $venv, hashes required"
"${pip[@]}" install --disable-pip-version-check --no-input --quiet --require-hashes -r "$lock" >&2

"$py" -c 'import moto, moto.server' >&2
for tool in redis-server redis-cli shellcheck check-jsonschema docker-compose aws; do
    if ! [[ -x "$venv/bin/$tool" ]]; then
        log "error: $tool is missing from $venv/bin after the install"
        exit 1
    fi
done

printf '%s\n' "$want" >"$stamp.tmp.$$"
mv -f "$stamp.tmp.$$" "$stamp"
log "virtualenv ready: $("$py" -c 'import moto; print("moto", moto.__version__)')"
