#!/bin/bash
# Forms the Redis cluster once, and checks it on every later deployment (run by the
# postdeploy hook and confighook, after the containers started):
# - waits until every node answers PING;
# - when every node is fresh (knows only itself, serves no slot), creates the cluster of
#   all of them (`redis-cli --cluster create ... --cluster-yes`: 3 masters, the 16384 slots
#   split between them), then waits until it is healthy;
# - when every node already belongs to the cluster, changes nothing: it only waits until
#   the cluster is healthy again (after a restart the nodes take a few seconds to find
#   each other), and fails if it does not become so;
# - when some nodes are fresh and others are not (a node lost its data), fails: repairing
#   that is a decision for a person (redis-cli --cluster add-node / fix).
# Healthy: every node reports cluster_state:ok, knows all the nodes, sees the 16384 slots
# assigned, and has a connected link to every other node, none flagged as failing.
#
# The nodes require a password: the one the prebuild hook (bin/redis-auth.sh) wrote to
# /data/redis-1/password beside the auth.conf the nodes include. Every redis-cli gets it
# through REDISCLI_AUTH in its own environment only, never on a command line (the host's
# `ps` shows every process's arguments, those of every container's processes included)
# nor in a container's environment (`docker inspect` shows it).
#
# Environment:
#   HOST_IP          the address the nodes announce (default: the one the prebuild hook
#                    wrote to /data/redis-1/announce.conf, which the nodes include)
#   DATA_DIR         holds redis-1..3/ (default /data)
#   REDIS_PORTS      the nodes' client ports (default "6379 6380 6381")
#   REDIS_CLI        a redis-cli command, run with the password in REDISCLI_AUTH (default:
#                    none, meaning redis-cli in the nodes' own image, since Amazon Linux
#                    2023 has no redis-cli: `docker run` of the image the environment
#                    property REDIS_VERSION names, as docker-compose.yml does, with the
#                    password file mounted read-only and read by the container's shell;
#                    see redis_cli)
#   PING_TIMEOUT     seconds to wait for every node to answer (default 120)
#   CLUSTER_TIMEOUT  seconds to wait for the cluster to be healthy (default 120)
#   POLL_INTERVAL    seconds between checks (default 2)
set -euo pipefail
SCRIPT_NAME=redis-cluster # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA_DIR=${DATA_DIR:-/data}
REDIS_PORTS=${REDIS_PORTS:-6379 6380 6381}
# The nodes' image without its tag, which is REDIS_VERSION: as in docker-compose.yml.
REDIS_REPOSITORY=public.ecr.aws/docker/library/redis
REDIS_CLI=${REDIS_CLI:-}
# Where `docker run` mounts the password file, and the container's command, which gives
# the file's content to redis-cli alone, as the nodes' healthchecks do.
IMAGE_PASSWORD_FILE=/run/redis-password
# shellcheck disable=SC2016 # $( ) and $@ are for the container's shell.
IMAGE_CLI_SCRIPT='REDISCLI_AUTH="$(cat '"$IMAGE_PASSWORD_FILE"')" exec redis-cli "$@"'
PING_TIMEOUT=${PING_TIMEOUT:-120}
CLUSTER_TIMEOUT=${CLUSTER_TIMEOUT:-120}
POLL_INTERVAL=${POLL_INTERVAL:-2}
ALL_SLOTS=16384

CLI=()
[[ -z "$REDIS_CLI" ]] || read -r -a CLI <<<"$REDIS_CLI"
read -r -a PORTS <<<"$REDIS_PORTS"

# redis-cli with the arguments given, authenticated: the password (PASSWORD, which
# main reads from PASSWORD_FILE) in REDISCLI_AUTH of the redis-cli process alone. With
# REDIS_CLI, bash puts it in that command's environment. Without it, redis-cli runs in
# the nodes' image (REDIS_IMAGE): docker would copy a variable into the container's
# configuration, which `docker inspect` shows, so instead the password file is mounted
# read-only and the container's shell reads it for redis-cli (IMAGE_CLI_SCRIPT).
redis_cli() {
    if ((${#CLI[@]})); then
        REDISCLI_AUTH=$PASSWORD "${CLI[@]}" "$@"
    else
        docker run --rm --network host -v "$PASSWORD_FILE:$IMAGE_PASSWORD_FILE:ro" "$REDIS_IMAGE" \
            sh -c "$IMAGE_CLI_SCRIPT" redis-cli "$@"
    fi
}

# redis-cli against the node on port $1; the rest are the command.
node() {
    local port=$1
    shift
    redis_cli -h "$HOST_IP" -p "$port" "$@" | tr -d '\r'
}

# The value of field $1 in the `cluster info` text $2.
info_field() {
    sed -n "s/^$1://p" <<<"$2"
}

# `fresh` when the node on port $1 knows only itself and serves no slot, else `clustered`;
# fails when it cannot tell (redis-cli exits 0 on an error reply, such as NOPERM, so an
# answer without the fields is a failure too).
node_kind() {
    local info known slots
    info=$(node "$1" cluster info) || die "cannot read cluster info from $HOST_IP:$1"
    known=$(info_field cluster_known_nodes "$info")
    slots=$(info_field cluster_slots_assigned "$info")
    [[ "$known" =~ ^[0-9]+$ && "$slots" =~ ^[0-9]+$ ]] ||
        die "cannot read cluster info from $HOST_IP:$1: it answered '$(head -n 1 <<<"$info")'"
    if [[ "$known" == 1 && "$slots" == 0 ]]; then
        echo fresh
    else
        echo clustered
    fi
}

# Prints why the node on port $1 is not healthy, or nothing when it is.
node_problem() {
    local port=$1 info nodes state known slots links
    info=$(node "$port" cluster info 2>&1) || {
        echo "cannot read cluster info: $info"
        return
    }
    state=$(info_field cluster_state "$info")
    known=$(info_field cluster_known_nodes "$info")
    slots=$(info_field cluster_slots_assigned "$info")
    if [[ "$state" != ok || "$known" != "${#PORTS[@]}" || "$slots" != "$ALL_SLOTS" ]]; then
        echo "cluster_state:$state cluster_known_nodes:$known cluster_slots_assigned:$slots"
        return
    fi
    nodes=$(node "$port" cluster nodes 2>&1) || {
        echo "cannot read cluster nodes: $nodes"
        return
    }
    # Fields: id address flags master ping-sent pong-received config-epoch link-state slots...
    links=$(awk '$3 ~ /fail|handshake|noaddr/ || $8 != "connected" { printf "%s %s %s %s; ", $1, $2, $3, $8 }' <<<"$nodes")
    if [[ -n "$links" ]]; then
        echo "cluster_state:ok but not every link is up: $links"
    fi
}

wait_for_ping() {
    local port answer deadline=$((SECONDS + PING_TIMEOUT))
    for port in "${PORTS[@]}"; do
        until answer=$(node "$port" ping 2>/dev/null) && [[ "$answer" == PONG ]]; do
            if ((SECONDS >= deadline)); then
                # Asked once more with its errors, which tell a node that is down from one
                # that refuses the password (NOAUTH, WRONGPASS); neither holds the password.
                answer=$(node "$port" ping 2>&1) || true
                die "the Redis node $HOST_IP:$port did not answer PING within ${PING_TIMEOUT}s; it answers: ${answer//$'\n'/ }"
            fi
            sleep "$POLL_INTERVAL"
        done
    done
    log "every node answers: $HOST_IP ports ${PORTS[*]}"
}

wait_until_healthy() {
    local port problem deadline=$((SECONDS + CLUSTER_TIMEOUT))
    while :; do
        problem=""
        for port in "${PORTS[@]}"; do
            problem=$(node_problem "$port")
            [[ -z "$problem" ]] || break
        done
        if [[ -z "$problem" ]]; then
            log "the cluster is healthy: ${#PORTS[@]} nodes, cluster_state:ok, $ALL_SLOTS slots assigned"
            return 0
        fi
        ((SECONDS < deadline)) || die "the Redis cluster is not healthy after ${CLUSTER_TIMEOUT}s: node $HOST_IP:$port: $problem (after an address change, see README.md)"
        sleep "$POLL_INTERVAL"
    done
}

main() {
    local announce version
    announce=$(announce_file "$DATA_DIR" 1)
    HOST_IP=${HOST_IP:-$(announce_ip "$announce")}
    [[ -n "$HOST_IP" ]] || die "HOST_IP is neither in the environment nor in $announce (the prebuild hook writes it)"
    ((${#PORTS[@]} > 0)) || die "REDIS_PORTS is empty"
    PASSWORD_FILE=$(password_file "$DATA_DIR" 1)
    [[ -s "$PASSWORD_FILE" ]] ||
        die "the nodes' password file $PASSWORD_FILE is missing or empty (the prebuild hook, bin/redis-auth.sh, writes it from REDIS_PASSWORD)"
    PASSWORD=$(<"$PASSWORD_FILE")
    if ((${#CLI[@]} == 0)); then
        version=$(environment_property REDIS_VERSION)
        [[ -n "$version" ]] || die "REDIS_VERSION is not set (the stack sets it as an environment property): cannot tell which redis image runs redis-cli"
        REDIS_IMAGE=$REDIS_REPOSITORY:$version
    fi

    wait_for_ping
    local port kind fresh=() clustered=() addresses=()
    for port in "${PORTS[@]}"; do
        # Assigned first: a failing node_kind stops the script here (inside [[ ]] its
        # failure would be ignored, and the node counted as clustered).
        kind=$(node_kind "$port")
        if [[ "$kind" == fresh ]]; then fresh+=("$port"); else clustered+=("$port"); fi
    done

    if ((${#clustered[@]} == 0)); then
        for port in "${PORTS[@]}"; do addresses+=("$HOST_IP:$port"); done
        log "every node is fresh: creating the cluster of ${addresses[*]}"
        redis_cli --cluster create "${addresses[@]}" --cluster-yes >&2 || die "redis-cli --cluster create ${addresses[*]} failed"
    elif ((${#fresh[@]} > 0)); then
        die "nodes on ports ${fresh[*]} are fresh (no cluster state) while ${clustered[*]} already belong to a cluster: refusing to guess; did a node lose its data directory? Repair by hand (redis-cli --cluster add-node, --cluster fix)"
    else
        log "the cluster exists: checking it"
    fi
    wait_until_healthy
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
