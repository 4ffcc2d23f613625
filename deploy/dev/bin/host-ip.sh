#!/bin/bash
# Gives the Redis nodes this host's address, before the containers start (run by the
# predeploy hook and confighook):
# 1. writes the instance's private IP (IMDSv2 local-ipv4) to .env as HOST_IP, which every
#    Redis node announces (docker-compose.yml passes it as --cluster-announce-ip);
# 2. when the nodes' saved cluster state (/data/redis-N/node.conf) still holds another
#    address (the volume came from an instance this one replaced), rewrites it to HOST_IP,
#    after stopping any Redis container still running. Redis does not do this itself: a
#    node restarted on a new address keeps calling its peers at the old one, and the
#    cluster never comes back (redis/redis#4645).
# Idempotent: with HOST_IP in .env and every node.conf on it, nothing is written.
#
# Environment (the defaults are the host's; the overrides exist for tests):
#   IMDS_ENDPOINT  instance metadata (default http://169.254.169.254)
#   ENV_FILE       the .env beside docker-compose.yml (default: the bundle's .env)
#   DATA_DIR       holds redis-1..3/node.conf (default /data)
set -euo pipefail
SCRIPT_NAME=host-ip # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENV_FILE=${ENV_FILE:-$BUNDLE_DIR/.env}
DATA_DIR=${DATA_DIR:-/data}
REDIS_SERVICES=(redis-1 redis-2 redis-3)

# Prints the node.conf $1 with the address of every node line set to $2: only the address
# part of the `ip:port@cport[,hostname]` field; `vars` lines, lines whose address is empty
# (`:0@0`, a node whose address is not known yet) and lines already on $2 are unchanged.
# All three nodes of this cluster run on this one host, so every address must be $2.
node_conf_with_address() {
    awk -v ip="$2" '
        $1 != "vars" && NF >= 8 && $2 ~ /:[0-9]+@[0-9]+/ {
            address = $2
            sub(/:[0-9]+@[0-9]+.*$/, "", address)
            if (address != "" && address != ip) {
                $2 = ip substr($2, length(address) + 1)
            }
        }
        { print }
    ' "$1"
}

# Prints whether docker runs here: `absent` (not installed), `stopped` (its daemon does
# not answer: then no container runs either) or `running`. Fails on anything else (a
# daemon that answers with an error, or not within 30 s): then containers may well run.
docker_state() {
    local errors
    if ! command -v docker >/dev/null 2>&1; then
        echo absent
    elif errors=$(timeout 30 docker info 2>&1 >/dev/null); then
        echo running
    elif [[ "$errors" == *"Cannot connect to the Docker daemon"* ]]; then
        echo stopped
    else
        die "cannot tell whether any Redis container runs: docker info failed: ${errors:-timed out after 30s}"
    fi
}

# Prints the ids of the running containers of the compose service $1 (any project), one a
# line; fails loudly when docker cannot list them.
running_containers() {
    local ids
    ids=$(docker ps -q --filter status=running --filter "label=com.docker.compose.service=$1") ||
        die "cannot list the running $1 containers (docker ps failed): refusing to rewrite node.conf under a Redis that may run"
    printf '%s' "$ids"
}

# Stops the Redis containers that run (any compose project), with compose from the
# directory that started them, so that none writes its node.conf while it is rewritten.
stop_running_redis() {
    local state
    state=$(docker_state)
    if [[ "$state" != running ]]; then
        log "docker is $state here, so no Redis container runs: nothing to stop"
        return 0
    fi
    local service out ids id project workdir
    for service in "${REDIS_SERVICES[@]}"; do
        out=$(running_containers "$service")
        ids=()
        [[ -z "$out" ]] || mapfile -t ids <<<"$out"
        for id in "${ids[@]}"; do
            project=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$id")
            workdir=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project.working_dir"}}' "$id")
            log "stopping $service (container $id, compose project $project in $workdir) before rewriting its node.conf"
            [[ -d "$workdir" ]] || die "cannot stop $service: its compose directory $workdir is gone (docker stop $id by hand)"
            ((${#COMPOSE[@]})) || compose_command
            (cd "$workdir" && "${COMPOSE[@]}" -p "$project" stop "$service") || die "cannot stop $service ($id)"
        done
    done
    for service in "${REDIS_SERVICES[@]}"; do
        out=$(running_containers "$service")
        [[ -z "$out" ]] || die "$service still runs after compose stop: refusing to rewrite its node.conf under it"
    done
}

main() {
    local ip file tmp stale=()
    ip=$(imds local-ipv4)
    [[ "$ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "the instance metadata gave '$ip' as local-ipv4, not an IPv4 address"
    env_file_set HOST_IP "$ip" "$ENV_FILE"

    for file in "$DATA_DIR"/redis-{1,2,3}/node.conf; do
        [[ -f "$file" ]] || continue
        if ! node_conf_with_address "$file" "$ip" | cmp -s - "$file"; then
            stale+=("$file")
        fi
    done
    if ((${#stale[@]} == 0)); then
        log "every node.conf under $DATA_DIR is on $ip (or there is none yet)"
        return 0
    fi

    COMPOSE=()
    stop_running_redis
    for file in "${stale[@]}"; do
        tmp=$(mktemp "$file.XXXXXX")
        node_conf_with_address "$file" "$ip" >"$tmp"
        chown --reference="$file" "$tmp"
        chmod --reference="$file" "$tmp"
        mv -f "$tmp" "$file"
        log "$file: node addresses rewritten to $ip"
    done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
