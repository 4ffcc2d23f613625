#!/bin/bash
# Makes /data the stack's EBS data volume, before anything else of a deployment runs
# (run by the prebuild hook and confighook): attaches the volume to this instance (waiting
# for a replaced instance to let go of it), makes a filesystem on it only when it has none
# (never reformats), mounts it at /data with an fstab entry by UUID, creates the services'
# data directories with their owners, and sets vm.max_map_count for Elasticsearch.
# Idempotent: a second run finds everything in place and changes nothing. Fails loudly
# (non-zero, one clear line) rather than let the services start without their data.
#
# Environment (the defaults are the host's; the overrides exist for tests):
#   DATA_VOLUME_ID      the volume (vol-...); when not in the environment, read with
#                       Elastic Beanstalk's get-config (the stack sets it as an environment
#                       property). Required.
#   IMDS_ENDPOINT       instance metadata (default http://169.254.169.254): instance id,
#                       region and availability zone
#   ATTACH_DEVICE       device name given to attach-volume (default /dev/sdf)
#   ATTACH_TIMEOUT      seconds to wait for the volume to become free and attached (300)
#   DEVICE_TIMEOUT      seconds to wait for its block device to appear (120)
#   POLL_INTERVAL       seconds between checks (5)
#   DISK_BY_ID_DIR      where udev names NVMe volumes by id (default /dev/disk/by-id)
#   DATA_FS_TYPE        filesystem made on an empty volume (default xfs)
#   DATA_DIR            the mount point (default /data)
#   FSTAB               (default /etc/fstab)
#   SYSCTL_CONF         (default /etc/sysctl.d/90-elasticsearch.conf)
#   MAX_MAP_COUNT_FILE  the live setting (default /proc/sys/vm/max_map_count; writing it
#                       is what `sysctl -w vm.max_map_count=...` does)
# The AWS CLI (`aws`) needs ec2:DescribeVolumes and ec2:AttachVolume (the instance role).
set -euo pipefail
SCRIPT_NAME=data-volume # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ATTACH_DEVICE=${ATTACH_DEVICE:-/dev/sdf}
ATTACH_TIMEOUT=${ATTACH_TIMEOUT:-300}
DEVICE_TIMEOUT=${DEVICE_TIMEOUT:-120}
POLL_INTERVAL=${POLL_INTERVAL:-5}
DISK_BY_ID_DIR=${DISK_BY_ID_DIR:-/dev/disk/by-id}
DATA_FS_TYPE=${DATA_FS_TYPE:-xfs}
DATA_DIR=${DATA_DIR:-/data}
FSTAB=${FSTAB:-/etc/fstab}
SYSCTL_CONF=${SYSCTL_CONF:-/etc/sysctl.d/90-elasticsearch.conf}
MAX_MAP_COUNT_FILE=${MAX_MAP_COUNT_FILE:-/proc/sys/vm/max_map_count}

# Owners of the data directories: the redis image's `redis` user (999:999; its entrypoint
# would chown the directory anyway), and Elasticsearch's uid 1000 with group 0, which
# its image documents for bind-mounted data directories (group-writable).
REDIS_OWNER=999:999
ELASTICSEARCH_OWNER=1000:0
MAX_MAP_COUNT=262144

# --- decisions (pure functions of their arguments: the tests call them directly) ---

# What to do about the volume, given its state, availability zone, the instance it is
# attached to and that attachment's state (`none` when unattached), this instance and its
# zone, and whether this run already asked to attach it. Prints one of:
#   ready | attach | wait-attach | wait-release | wait-create | fail <why>
attach_decision() {
    local state=$1 zone=$2 holder=$3 attachment=$4 me=$5 my_zone=$6 requested=$7
    if [[ "$zone" != "$my_zone" ]]; then
        echo "fail it is in $zone but this instance is in $my_zone, and a volume attaches only within its own availability zone: launch the environment in a subnet of $zone"
        return
    fi
    case $state in
    in-use)
        if [[ "$holder" != "$me" ]]; then
            echo wait-release
        elif [[ "$attachment" == attached ]]; then
            echo ready
        else
            echo wait-attach
        fi
        ;;
    available)
        if [[ "$requested" == yes ]]; then echo wait-attach; else echo attach; fi
        ;;
    creating) echo wait-create ;;
    *) echo "fail it is $state" ;;
    esac
}

# The udev name of an EBS volume's NVMe device (Nitro instances rename /dev/sdf).
device_link() {
    printf '%s/nvme-Amazon_Elastic_Block_Store_%s\n' "$DISK_BY_ID_DIR" "${1//-/}"
}

# Prints `keep <type>` when the device holds a filesystem, `make` when blkid finds
# nothing at all on it; fails on anything else (a partition table, an ambiguous probe, an
# unreadable device), since formatting is only ever safe on a device known to be empty.
filesystem_decision() {
    local device=$1 type rc=0
    # blkid says "nothing found" (exit 2) of a device it cannot read, too.
    [[ "$(head -c 4096 "$device" 2>/dev/null | wc -c)" -eq 4096 ]] || die "cannot read $device: refusing to format it"
    type=$(blkid -p -o value -s TYPE "$device") || rc=$?
    case $rc in
    0)
        [[ -n "$type" ]] || die "$device holds something that is not a filesystem ($(blkid -p -o export "$device" | tr '\n' ' ')): refusing to format it"
        echo "keep $type"
        ;;
    2) echo make ;;
    *) die "blkid cannot tell whether $device holds a filesystem (exit $rc): refusing to format it" ;;
    esac
}

# The fstab line for the data volume: by UUID (device names change between instances),
# nofail so that a host whose volume is missing still boots.
fstab_entry() {
    local uuid=$1 dir=$2 type=$3
    printf 'UUID=%s %s %s defaults,nofail 0 2\n' "$uuid" "$dir" "$type"
}

# Prints the fstab $1 with the entry $2 for the mount point $3: unchanged when the entry is
# there, else with any other entry for that mount point replaced by it, else with it added.
fstab_with_entry() {
    local file=$1 entry=$2 dir=$3
    awk -v entry="$entry" -v dir="$dir" '
        $0 == entry { if (!done) print; done = 1; next }
        $1 !~ /^#/ && $2 == dir { if (!done) print entry; done = 1; next }
        { print }
        END { if (!done) print entry }
    ' "$file"
}

# --- actions ---

describe_volume() {
    local out
    if ! out=$(aws ec2 describe-volumes --region "$REGION" --volume-ids "$VOLUME_ID" \
        --query "Volumes[0].[State, AvailabilityZone, Attachments[0].InstanceId || 'none', Attachments[0].State || 'none']" \
        --output text 2>"$ERRORS"); then
        case $(<"$ERRORS") in
        *InvalidVolume.NotFound* | *InvalidVolumeID.NotFound*)
            die "the data volume $VOLUME_ID does not exist in $REGION (InvalidVolume.NotFound): DATA_VOLUME_ID is wrong, or the volume was deleted"
            ;;
        *) die "cannot describe the data volume $VOLUME_ID: $(<"$ERRORS")" ;;
        esac
    fi
    printf '%s\n' "$out"
}

request_attach() {
    log "attaching $VOLUME_ID to $INSTANCE_ID as $ATTACH_DEVICE"
    if ! aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" \
        --device "$ATTACH_DEVICE" >/dev/null 2>"$ERRORS"; then
        case $(<"$ERRORS") in
        # Somebody else took it between our look and our call: the next look tells.
        *VolumeInUse* | *IncorrectState*) log "attach-volume: $(<"$ERRORS")" ;;
        *) die "cannot attach $VOLUME_ID to $INSTANCE_ID: $(<"$ERRORS")" ;;
        esac
    fi
}

attach_volume() {
    local deadline=$((SECONDS + ATTACH_TIMEOUT)) requested=no info state zone holder attachment decision
    while :; do
        info=$(describe_volume)
        read -r state zone holder attachment <<<"$info"
        decision=$(attach_decision "$state" "$zone" "$holder" "$attachment" "$INSTANCE_ID" "$ZONE" "$requested")
        case $decision in
        ready)
            log "$VOLUME_ID is attached to this instance ($INSTANCE_ID)"
            return 0
            ;;
        attach)
            request_attach
            requested=yes
            continue
            ;;
        fail*) die "cannot use the data volume $VOLUME_ID: ${decision#fail }" ;;
        wait-release) log "waiting for $VOLUME_ID: it is still attached to $holder ($attachment)" ;;
        wait-attach) log "waiting for $VOLUME_ID to be attached to $INSTANCE_ID ($state, $attachment)" ;;
        wait-create) log "waiting for $VOLUME_ID to be created" ;;
        esac
        if ((SECONDS >= deadline)); then
            case $decision in
            wait-release) die "timed out after ${ATTACH_TIMEOUT}s: the data volume $VOLUME_ID is still attached to $holder ($attachment); the instance this one replaces must be terminated (or the volume detached from it) first" ;;
            *) die "timed out after ${ATTACH_TIMEOUT}s waiting for the data volume $VOLUME_ID to be attached to $INSTANCE_ID (it is $state, attachment $attachment)" ;;
            esac
        fi
        sleep "$POLL_INTERVAL"
    done
}

# Prints the volume's block device once udev has named it.
wait_for_device() {
    local link deadline=$((SECONDS + DEVICE_TIMEOUT))
    link=$(device_link "$VOLUME_ID")
    until [[ -e "$link" ]]; do
        ((SECONDS < deadline)) || die "the data volume $VOLUME_ID is attached but $link did not appear within ${DEVICE_TIMEOUT}s"
        log "waiting for $link"
        sleep 1
    done
    readlink -f "$link"
}

ensure_filesystem() {
    local device=$1 decision
    decision=$(filesystem_decision "$device")
    if [[ "$decision" == make ]]; then
        command -v "mkfs.$DATA_FS_TYPE" >/dev/null 2>&1 || die "mkfs.$DATA_FS_TYPE is not installed: cannot make a filesystem on $device"
        log "$device ($VOLUME_ID) has no filesystem: making $DATA_FS_TYPE"
        "mkfs.$DATA_FS_TYPE" -q -L data "$device" >&2 || die "mkfs.$DATA_FS_TYPE $device failed"
    else
        log "$device ($VOLUME_ID) already holds ${decision#keep }: keeping it as it is"
    fi
}

ensure_fstab_entry() {
    local device=$1 uuid type entry tmp
    uuid=$(blkid -p -o value -s UUID "$device") && [[ -n "$uuid" ]] || die "cannot read the filesystem UUID of $device"
    type=$(blkid -p -o value -s TYPE "$device") || die "cannot read the filesystem type of $device"
    entry=$(fstab_entry "$uuid" "$DATA_DIR" "$type")
    [[ -f "$FSTAB" ]] || : >"$FSTAB"
    tmp=$(mktemp "$FSTAB.XXXXXX")
    fstab_with_entry "$FSTAB" "$entry" "$DATA_DIR" >"$tmp"
    if cmp -s "$tmp" "$FSTAB"; then
        rm -f "$tmp"
        log "$FSTAB already mounts $DATA_DIR by UUID=$uuid"
        return 0
    fi
    chmod --reference="$FSTAB" "$tmp"
    mv -f "$tmp" "$FSTAB"
    log "$FSTAB: $entry"
    # systemd makes mount units from /etc/fstab, and keeps using the old ones until told.
    if [[ "$FSTAB" == /etc/fstab ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl daemon-reload || log "systemctl daemon-reload failed; the entry still works for mount"
    fi
}

# The device mounted at $1, or nothing.
mounted_source() {
    findmnt -n -o SOURCE --mountpoint "$1" || true
}

ensure_mounted() {
    local device=$1 source
    source=$(mounted_source "$DATA_DIR")
    if [[ -z "$source" ]]; then
        mkdir -p "$DATA_DIR"
        log "mounting $DATA_DIR"
        mount --fstab "$FSTAB" "$DATA_DIR" || die "cannot mount $DATA_DIR from its $FSTAB entry"
        source=$(mounted_source "$DATA_DIR")
    fi
    [[ -n "$source" && "$(readlink -f "$source")" == "$device" ]] ||
        die "$DATA_DIR is mounted from ${source:-nothing}, not from the data volume $VOLUME_ID ($device)"
    log "$DATA_DIR is the data volume $VOLUME_ID ($device)"
}

ensure_data_directories() {
    local n
    for n in 1 2 3; do
        install -d -o "${REDIS_OWNER%:*}" -g "${REDIS_OWNER#*:}" -m 0755 "$DATA_DIR/redis-$n"
    done
    install -d -o "${ELASTICSEARCH_OWNER%:*}" -g "${ELASTICSEARCH_OWNER#*:}" -m 0775 "$DATA_DIR/elasticsearch"
    log "data directories ready: $DATA_DIR/redis-{1,2,3} ($REDIS_OWNER), $DATA_DIR/elasticsearch ($ELASTICSEARCH_OWNER)"
}

# Elasticsearch refuses to start with the kernel's default vm.max_map_count (65530).
ensure_max_map_count() {
    local line="vm.max_map_count=$MAX_MAP_COUNT" current
    mkdir -p "$(dirname "$SYSCTL_CONF")"
    if [[ "$(cat "$SYSCTL_CONF" 2>/dev/null)" != "$line" ]]; then
        printf '%s\n' "$line" >"$SYSCTL_CONF"
        log "wrote $line to $SYSCTL_CONF"
    fi
    current=$(<"$MAX_MAP_COUNT_FILE")
    if ((current < MAX_MAP_COUNT)); then
        printf '%s\n' "$MAX_MAP_COUNT" >"$MAX_MAP_COUNT_FILE" || die "cannot set vm.max_map_count ($MAX_MAP_COUNT_FILE)"
        log "vm.max_map_count: $current -> $MAX_MAP_COUNT"
    fi
}

main() {
    VOLUME_ID=$(environment_property DATA_VOLUME_ID)
    [[ -n "$VOLUME_ID" ]] || die "DATA_VOLUME_ID is not set (the stack sets it as an environment property): refusing to run without the data volume"
    [[ "$VOLUME_ID" =~ ^vol-[0-9a-f]+$ ]] || die "DATA_VOLUME_ID=$VOLUME_ID is not an EBS volume id (vol-...)"
    INSTANCE_ID=$(imds instance-id)
    REGION=$(imds placement/region)
    ZONE=$(imds placement/availability-zone)
    ERRORS=$(mktemp)
    trap 'rm -f "$ERRORS"' EXIT

    attach_volume
    local device
    device=$(wait_for_device)
    ensure_filesystem "$device"
    ensure_fstab_entry "$device"
    ensure_mounted "$device"
    ensure_data_directories
    ensure_max_map_count
}

# Sourced (by a test, for the decision functions), it only defines them.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
