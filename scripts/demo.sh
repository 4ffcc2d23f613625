#!/usr/bin/env bash
# The whole lifecycle of stacks/dev.toml against a throwaway local AWS emulator:
#   infra plan, apply, plan (expected empty), output, destroy (refused: the data
#   volume is protected), then the documented teardown: protect = false, apply,
#   destroy, which leaves nothing.
# It works in a temporary copy of the project, so the repository's state/dev.json is
# never written, and it clears every AWS_* variable and uses dummy credentials, so it can
# never reach real AWS. The emulator is stopped on exit, whether the demo passed or not.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "building infra"
cargo build --bin infra
infra="${CARGO_TARGET_DIR:-$root/target}/debug/infra"
[[ -x "$infra" ]] || { echo "demo: $infra was not built" >&2; exit 1; }

bash tests/emulator/ensure-venv.sh

work="$(mktemp -d "${TMPDIR:-/tmp}/infra-demo.XXXXXX")"
emulator_pid=""
cleanup() {
    local status=$?
    if [[ -n "$emulator_pid" ]]; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    if [[ "$status" -ne 0 && -s "$work/emulator.log" ]]; then
        echo "demo: failed; the emulator's log ends with:" >&2
        tail -n 40 "$work/emulator.log" >&2
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Nothing from the caller's AWS setup may leak in: no profile, no real keys, no endpoint
# overrides (AWS_ENDPOINT_URL_EC2 and friends would win over AWS_ENDPOINT_URL).
for name in $(compgen -e); do
    if [[ "$name" == AWS_* ]]; then
        unset "$name"
    fi
done
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null

# The dev stack's secrets (Elasticsearch's and Redis's passwords) and the key state
# encrypts them with: random, for this demo only.
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
export ELASTIC_PASSWORD="demo-$(random_hex 12)"
export REDIS_PASSWORD="demo-$(random_hex 12)"
export INFRA_STATE_KEY="$(random_hex 32)"
unset INFRA_STATE_PASSPHRASE

mkdir -p "$work/stacks" "$work/state"
cp stacks/dev.toml "$work/stacks/dev.toml"
cp -R deploy "$work/deploy"   # the bundles the stack deploys (source_dir)

step "starting the emulator"
# A coprocess: we hold its stdin, so it also exits if this script is killed outright.
coproc EMULATOR {
    exec "$root/.venv/bin/python" -u "$root/tests/emulator/server.py" --port 0 2>"$work/emulator.log"
}
emulator_pid=$EMULATOR_PID
emulator_stdout=${EMULATOR[0]}
port=""
while IFS= read -r -t 60 line <&"$emulator_stdout"; do
    if [[ "$line" == INFRA_EMULATOR_PORT=* ]]; then
        port="${line#INFRA_EMULATOR_PORT=}"
        break
    fi
done
if [[ -z "$port" ]]; then
    echo "demo: the emulator did not start (no INFRA_EMULATOR_PORT line within 60s)" >&2
    exit 1
fi
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
echo "emulator: $AWS_ENDPOINT_URL" >&2


# Guard: the repository's own state must come out of this untouched.
repo_state="$root/state/dev.json"
state_before="$(cksum "$repo_state" 2>/dev/null || echo absent)"

# Run from inside the copy too, so even a relative path can only land there.
cd "$work"
run() {
    step "infra $*"
    "$infra" -C "$work" "$@"
}
run plan --stack dev
run apply --stack dev --yes
if grep -qF -e "$ELASTIC_PASSWORD" -e "$REDIS_PASSWORD" "$work/state/dev.json"; then
    echo "demo: the state file holds a secret in plain text" >&2
    exit 1
fi
run plan --stack dev
run output --stack dev

# The data volume is protected: destroy refuses the whole stack, deletes nothing.
step "infra destroy --stack dev --yes (expected to be refused: the data volume is protected)"
if "$infra" -C "$work" destroy --stack dev --yes; then
    echo "demo: destroy deleted the protected data volume" >&2
    exit 1
fi

# The documented teardown (docs/day2.md: Protection): lift the protection in the
# (copied) stack file, apply it (no AWS change), then destroy.
step "lifting the data volume's protection: protect = false in stacks/dev.toml"
stack_file="$work/stacks/dev.toml"
sed 's/^protect = true$/protect = false/' "$stack_file" >"$stack_file.new"
mv "$stack_file.new" "$stack_file"
grep -q '^protect = false$' "$stack_file" || { echo "demo: could not lift the protection" >&2; exit 1; }
run apply --stack dev --yes
run destroy --stack dev --yes
if ! "$root/.venv/bin/python" -c 'import json, sys; sys.exit(1 if json.load(open(sys.argv[1])).get("resources") else 0)' \
    "$work/state/dev.json"; then
    echo "demo: the destroy left resources in state" >&2
    exit 1
fi
cd "$root"

if [[ "$(cksum "$repo_state" 2>/dev/null || echo absent)" != "$state_before" ]]; then
    echo "demo: $repo_state changed; the demo must only touch its temporary copy" >&2
    exit 1
fi
step "demo finished"
