#!/bin/bash
# Gives the Redis nodes their password, before anything reads the compose file (run by the
# prebuild hook and confighook, after bin/data-volume.sh has mounted /data and made the
# nodes' directories). For each node N, beside its announce.conf on the data volume:
# - /data/redis-N/auth.conf: `requirepass` and `masterauth`, the password quoted for
#   Redis's config syntax; each node's redis-N.conf includes it (`include /data/auth.conf`:
#   the node sees its data directory as /data), and Redis refuses to start without it;
# - /data/redis-N/password: the password alone (no newline), which the node's compose
#   healthcheck and bin/redis-cluster.sh give redis-cli through REDISCLI_AUTH.
# Both are mode 0600, owned by the redis image's user (REDIS_OWNER, 999:999), written
# atomically and only when their content changes.
#
# The password is the environment variable REDIS_PASSWORD: the stack keeps it in an SSM
# SecureString parameter and names it in aws:elasticbeanstalk:application:environmentsecrets,
# and Elastic Beanstalk makes such secrets available to platform hooks as environment
# variables (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/AWSHowTo.secrets.env-vars.html);
# get-config is asked when it is not in the environment. Empty or missing, nothing is
# written and the step fails: a node never starts without a password. The password is
# never printed, never on a command line (only bash builtins handle it), never in a
# container's environment.
#
# Environment (the defaults are the host's; the overrides exist for tests):
#   REDIS_PASSWORD  the password (else `get-config environment -k REDIS_PASSWORD`)
#   DATA_DIR        holds redis-1..3/ (default /data)
set -euo pipefail
SCRIPT_NAME=redis-auth # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DATA_DIR=${DATA_DIR:-/data}

# Prints $1 as a double-quoted string of Redis's config syntax, which splits a line into
# arguments as sdssplitargs does: inside double quotes a backslash escapes the next
# character (\\ is a backslash, \" a quote); every other character, spaces, `$` and `#`
# included, stands for itself. Pure bash: the value never reaches a command line.
redis_quoted() {
    local value=$1 quoted="" c i
    for ((i = 0; i < ${#value}; i++)); do
        c=${value:i:1}
        case $c in
        \\ | \") quoted+="\\$c" ;;
        *) quoted+=$c ;;
        esac
    done
    printf '"%s"' "$quoted"
}

# The content of an auth file for the password $1.
auth_conf() {
    local quoted
    quoted=$(redis_quoted "$1")
    printf 'requirepass %s\nmasterauth %s\n' "$quoted" "$quoted"
}

# Writes $2 (exactly, with no newline added) to the file $1, mode 0600 and owned by
# REDIS_OWNER, atomically; rewrites it only when its content differs. Never prints $2.
write_secret_file() {
    local file=$1 content=$2 tmp
    if [[ -f "$file" ]] && cmp -s "$file" <(printf '%s' "$content"); then
        chown "$REDIS_OWNER" "$file"
        chmod 0600 "$file"
        log "$file is up to date"
        return 0
    fi
    tmp=$(mktemp "$file.XXXXXX") # made 0600
    printf '%s' "$content" >"$tmp"
    chown "$REDIS_OWNER" "$tmp"
    chmod 0600 "$tmp"
    mv -f "$tmp" "$file"
    log "wrote $file (mode 0600, owner $REDIS_OWNER)"
}

main() {
    local password n dir
    # The x keeps a trailing newline that $( ) would silently strip, to be refused below.
    password=$(
        environment_property REDIS_PASSWORD
        printf x
    )
    password=${password%x}
    [[ -n "$password" ]] ||
        die "REDIS_PASSWORD is not set or empty (the stack names it in aws:elasticbeanstalk:application:environmentsecrets): refusing to configure Redis without a password"
    [[ "$password" != *[$'\n\r']* ]] ||
        die "REDIS_PASSWORD holds a line break: the nodes' healthchecks read it as one line; choose a password without one"

    for n in 1 2 3; do
        dir=$DATA_DIR/redis-$n
        [[ -d "$dir" ]] || die "$dir does not exist: the data volume hook (bin/data-volume.sh) makes it, and runs first"
    done
    for n in 1 2 3; do
        write_secret_file "$(auth_file "$DATA_DIR" "$n")" "$(auth_conf "$password")"$'\n'
        write_secret_file "$(password_file "$DATA_DIR" "$n")" "$password"
    done
}

# Sourced (by a test, for redis_quoted), it only defines the functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
