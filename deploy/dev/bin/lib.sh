# shellcheck shell=bash
# shellcheck disable=SC2034 # BUNDLE_DIR and COMPOSE are for the scripts that source this.
# Shared by the scripts beside this file (sourced by them, never run on its own):
# logging, the instance metadata (IMDSv2), environment properties, the Redis nodes'
# files on the data volume (announce address, password) and the compose command.
#
# Environment (all optional):
#   IMDS_ENDPOINT  the instance metadata service (default http://169.254.169.254)
#   GET_CONFIG     Elastic Beanstalk's get-config (default /opt/elasticbeanstalk/bin/get-config)

# The bundle's root (docker-compose.yml): this file's directory's parent. A hook
# runs in /var/app/staging (prebuild, predeploy) or /var/app/current (postdeploy), so
# everything is found relative to the script, never to a fixed path.
BUNDLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMDS_ENDPOINT=${IMDS_ENDPOINT:-http://169.254.169.254}
GET_CONFIG=${GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}
# AWS CLI v2 (on Amazon Linux 2023) pipes output through a pager unless told not to.
export AWS_PAGER=""
# The owner of the Redis nodes' data directories and of their password files: the
# official redis image's `redis` user and group, which its Debian-based Dockerfile
# creates as 999:999 (`groupadd -r -g 999 redis; useradd -r -g redis -u 999 redis`,
# docker-library/redis) and as which its entrypoint runs redis-server.
REDIS_OWNER=999:999

log() { printf '%s: %s\n' "${SCRIPT_NAME:-${0##*/}}" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# Prints the instance metadata item $1 (e.g. instance-id, local-ipv4), through IMDSv2.
imds() {
    local item=$1 token value
    token=$(curl -fsS --connect-timeout 2 --max-time 10 --retry 5 --retry-connrefused \
        -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$IMDS_ENDPOINT/latest/api/token") ||
        die "cannot get an IMDSv2 token from $IMDS_ENDPOINT (is this an EC2 instance with the metadata service enabled?)"
    value=$(curl -fsS --connect-timeout 2 --max-time 10 --retry 5 --retry-connrefused \
        -H "X-aws-ec2-metadata-token: $token" "$IMDS_ENDPOINT/latest/meta-data/$item") ||
        die "cannot read $item from the instance metadata at $IMDS_ENDPOINT"
    [[ -n "$value" ]] || die "the instance metadata at $IMDS_ENDPOINT returned an empty $item"
    printf '%s\n' "$value"
}

# Prints the environment property $1: from the process environment when set there,
# else from Elastic Beanstalk's get-config; nothing when neither has it.
environment_property() {
    local name=$1 value=${!1:-}
    if [[ -z "$value" && -x "$GET_CONFIG" ]]; then
        value=$("$GET_CONFIG" environment -k "$name" 2>/dev/null) || value=""
    fi
    printf '%s' "$value"
}

# The file node $2's redis-N.conf includes under the data directory $1 (the node sees
# $1/redis-N as /data): its announce address, written by bin/announce-address.sh.
announce_file() {
    printf '%s/redis-%s/announce.conf\n' "$1" "$2"
}

# The file node $2's redis-N.conf includes for its password (requirepass, masterauth),
# under the data directory $1: written by bin/redis-auth.sh.
auth_file() {
    printf '%s/redis-%s/auth.conf\n' "$1" "$2"
}

# The file that holds node $2's password alone (no newline), under the data directory
# $1: read by the node's compose healthcheck and by bin/redis-cluster.sh, written by
# bin/redis-auth.sh.
password_file() {
    printf '%s/redis-%s/password\n' "$1" "$2"
}

# The content of an announce file for the address $1.
announce_line() {
    printf 'cluster-announce-ip %s\n' "$1"
}

# Prints the address the announce file $1 gives, or nothing when it has none.
announce_ip() {
    [[ -f "$1" ]] || return 0
    sed -n 's/^cluster-announce-ip[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$1" | tail -n 1
}

# Sets the array COMPOSE to the compose command this host has: Compose v2 as a docker
# plugin (`docker compose`), else the standalone `docker-compose` (v1, or v2 installed
# standalone). The one place that decides; call it once.
compose_command() {
    if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE=(docker-compose)
    else
        die "neither 'docker compose' nor 'docker-compose' is installed"
    fi
}
