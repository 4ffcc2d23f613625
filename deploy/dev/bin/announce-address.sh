#!/bin/bash
# Gives the Redis nodes this host's address, before anything reads the compose file (run by
# the prebuild hook and confighook, right after bin/data-volume.sh has mounted /data):
# 1. writes the instance's private IP (IMDSv2 local-ipv4) as `cluster-announce-ip` into
#    /data/redis-N/announce.conf, which each node's redis-N.conf includes (the node sees its
#    data directory as /data, so the include reads /data/announce.conf);
# 2. when the nodes' saved cluster state (/data/redis-N/node.conf) still holds another
#    address (the volume came from an instance this one replaced), rewrites it to that IP,
#    after stopping any Redis container still running. Redis does not do this itself: a
#    node restarted on a new address keeps calling its peers at the old one, and the
#    cluster never comes back (redis/redis#4645).
# Why prebuild, and a file on /data rather than .env: Elastic Beanstalk reads the compose
# file in its configure step, between the prebuild and the predeploy hooks, from a fresh
# staging directory whose .env it writes from the environment's properties only; a value
# a predeploy hook writes to .env comes too late, and a .env a hook writes before the
# platform's stops the platform from writing its own (see README.md, "How a deployment
# runs"). The announce files live with the data they describe, outside any bundle.
# Idempotent: with every announce.conf and node.conf on this address, nothing is written.
#
# Environment (the defaults are the host's; the overrides exist for tests):
#   IMDS_ENDPOINT  instance metadata (default http://169.254.169.254)
#   DATA_DIR       holds redis-1..3/ (default /data)
set -euo pipefail
SCRIPT_NAME=announce-address # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

# Writes `cluster-announce-ip $2` to the announce file $1 (mode 644, read by the node's
# redis user), atomically, only when its content changes.
write_announce_file() {
    local file=$1 ip=$2 tmp
    if [[ -f "$file" && "$(<"$file")" == "$(announce_line "$ip")" ]]; then
        log "$file already announces $ip"
        return 0
    fi
    tmp=$(mktemp "$file.XXXXXX")
    announce_line "$ip" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$file"
    log "$file: cluster-announce-ip $ip"
}

main() {
    local ip n dir file tmp stale=()
    ip=$(imds local-ipv4)
    [[ "$ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "the instance metadata gave '$ip' as local-ipv4, not an IPv4 address"

    for n in 1 2 3; do
        dir=$DATA_DIR/redis-$n
        [[ -d "$dir" ]] || die "$dir does not exist: the data volume hook (bin/data-volume.sh) makes it, and runs first"
        file=$dir/node.conf
        if [[ -f "$file" ]] && ! node_conf_with_address "$file" "$ip" | cmp -s - "$file"; then
            stale+=("$file")
        fi
    done
    if ((${#stale[@]} > 0)); then
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
    else
        log "every node.conf under $DATA_DIR is on $ip (or there is none yet)"
    fi
    # Written after the rewrite: a node started from here on finds both on this address.
    for n in 1 2 3; do
        write_announce_file "$(announce_file "$DATA_DIR" "$n")" "$ip"
    done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
