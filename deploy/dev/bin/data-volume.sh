#!/bin/bash
# Makes /data the stack's EBS data volume, before anything else of a deployment runs
# (run by the prebuild hook and confighook): attaches the volume to this instance (waiting
# for a replaced instance to let go of it, failing at once when the holder is a running
# instance of this same environment), makes a filesystem on it only when it has none
# (never reformats), mounts it at /data with an fstab entry by UUID that docker.service
# waits for, grows the filesystem when the volume was grown, creates the services' data
# directories with their owners, makes docker.service require the mount, and sets
# vm.max_map_count for Elasticsearch.
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
#   ATTACH_TIMEOUT      seconds to wait for the volume to become free and attached (600)
#   ATTACH_REQUESTS     attach-volume calls at most, when an attach does not take (5)
#   DEVICE_TIMEOUT      seconds to wait for its block device to appear (120)
#   POLL_INTERVAL       seconds between checks (5)
#   DISK_BY_ID_DIR      where udev names NVMe volumes by id (default /dev/disk/by-id)
#   DEV_DIR             where a Xen instance's kernel names the volume xvdf (default /dev)
#   HYPERVISOR_TYPE_FILE  says `xen` on a Xen instance (default /sys/hypervisor/type)
#   DATA_FS_TYPE        filesystem made on an empty volume (default xfs)
#   DATA_DIR            the mount point (default /data)
#   FSTAB               (default /etc/fstab)
#   DOCKER_DROPIN       the docker.service drop-in that requires the mount (default
#                       /etc/systemd/system/docker.service.d/10-data-volume.conf)
#   SYSCTL_CONF         (default /etc/sysctl.d/90-elasticsearch.conf)
#   MAX_MAP_COUNT_FILE  the live setting (default /proc/sys/vm/max_map_count; writing it
#                       is what `sysctl -w vm.max_map_count=...` does)
# The AWS CLI (`aws`) needs ec2:DescribeVolumes, ec2:AttachVolume and ec2:DescribeInstances
# (the instance role).
set -euo pipefail
SCRIPT_NAME=data-volume # read by log() in lib.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ATTACH_DEVICE=${ATTACH_DEVICE:-/dev/sdf}
ATTACH_TIMEOUT=${ATTACH_TIMEOUT:-600}
ATTACH_REQUESTS=${ATTACH_REQUESTS:-5}
DEVICE_TIMEOUT=${DEVICE_TIMEOUT:-120}
POLL_INTERVAL=${POLL_INTERVAL:-5}
DISK_BY_ID_DIR=${DISK_BY_ID_DIR:-/dev/disk/by-id}
DEV_DIR=${DEV_DIR:-/dev}
HYPERVISOR_TYPE_FILE=${HYPERVISOR_TYPE_FILE:-/sys/hypervisor/type}
DATA_FS_TYPE=${DATA_FS_TYPE:-xfs}
DATA_DIR=${DATA_DIR:-/data}
FSTAB=${FSTAB:-/etc/fstab}
DOCKER_DROPIN=${DOCKER_DROPIN:-/etc/systemd/system/docker.service.d/10-data-volume.conf}
SYSCTL_CONF=${SYSCTL_CONF:-/etc/sysctl.d/90-elasticsearch.conf}
MAX_MAP_COUNT_FILE=${MAX_MAP_COUNT_FILE:-/proc/sys/vm/max_map_count}

# Owners of the data directories: the redis image's `redis` user (REDIS_OWNER, in lib.sh;
# its entrypoint would chown the directory anyway), and Elasticsearch's uid 1000 with
# group 0, which its image documents for bind-mounted data directories (group-writable).
ELASTICSEARCH_OWNER=1000:0
MAX_MAP_COUNT=262144
# The tag Elastic Beanstalk puts on its instances, naming their environment.
ENVIRONMENT_TAG=elasticbeanstalk:environment-id
# A filesystem this much smaller than its device is grown. Growing leaves a remainder too
# small for one more allocation group (xfs) or block group (ext4) unused, a few MiB at
# most, and EBS volumes grow by whole GiB.
GROW_SLACK=$((16 << 20))

# --- decisions (pure functions of their arguments: the tests call them directly) ---

# What to do about the volume, given its state, availability zone, the instance it is
# attached to and that attachment's state (`none` when unattached), this instance and its
# zone, and how many times this run already asked to attach it. Prints one of:
#   ready | attach | wait-attach | wait-release | wait-create | fail <why>
# A volume seen `available` again after an attach request is asked for again (the attach
# did not take, or another instance took it first and has let go since), ATTACH_REQUESTS
# times at most.
attach_decision() {
    local state=$1 zone=$2 holder=$3 attachment=$4 me=$5 my_zone=$6 requests=$7
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
        if ((requests >= ATTACH_REQUESTS)); then
            echo "fail it is still available after $requests attach-volume requests: see the volume's AttachVolume events in CloudTrail"
        else
            echo attach
        fi
        ;;
    creating) echo wait-create ;;
    *) echo "fail it is $state" ;;
    esac
}

# Whether to wait for the instance $1 that holds the volume, given that attachment's state
# $2, the holder's state $3 and environment id $4 (`none`: not an Elastic Beanstalk
# instance), and this instance's environment id $5. Prints `wait <why>` or `fail <why>`.
# A holder on its way out (shutting down, stopping, terminated, or the volume detaching)
# lets go by itself. A running instance of this same environment never does: it is the
# instance a deployment started this one beside, and it keeps the volume until the
# deployment is over, which waits for this instance.
holder_decision() {
    local holder=$1 attachment=$2 holder_state=$3 holder_env=$4 my_env=$5
    if [[ "$attachment" == detaching ]]; then
        echo "wait it is detaching from $holder"
    elif [[ "$holder_state" =~ ^(pending|running)$ && "$holder_env" != none && "$holder_env" == "$my_env" ]]; then
        echo "fail it is attached to $holder, a $holder_state instance of this same Elastic Beanstalk environment ($my_env), which keeps it: a deployment that starts new instances beside the running one (deployment policy Immutable or RollingWithAdditionalBatch, or an immutable managed platform update) can never get the volume; set the environment's DeploymentPolicy to AllAtOnce, its RollingUpdateEnabled to false, and turn managed platform updates off"
    elif [[ "$holder_env" == none ]]; then
        echo "wait $holder is $holder_state"
    else
        echo "wait $holder is $holder_state (environment $holder_env)"
    fi
}

# The udev name of an EBS volume's NVMe device (Nitro instances rename /dev/sdf): by the
# volume id, which the device carries as its serial number, so it cannot name another.
device_link() {
    printf '%s/nvme-Amazon_Elastic_Block_Store_%s\n' "$DISK_BY_ID_DIR" "${1//-/}"
}

# The name a Xen instance's kernel gives the volume attached as $1 (/dev/sdf -> xvdf).
xen_device() {
    local name=${1#/dev/}
    name=${name#sd}
    name=${name#xvd}
    printf '%s/xvd%s\n' "$DEV_DIR" "$name"
}

# `xen` on an instance of an older, Xen-based type (t2, m4, c4...), whose kernel says so
# in /sys/hypervisor/type; `nitro` on any other (KVM-based Nitro, with NVMe EBS devices).
hypervisor() {
    if [[ "$(cat "$HYPERVISOR_TYPE_FILE" 2>/dev/null)" == xen ]]; then echo xen; else echo nitro; fi
}

# `grow` when a filesystem of $1 bytes on a device of $2 bytes is to be grown, else `full`.
grow_decision() {
    if (($2 > $1 + GROW_SLACK)); then echo grow; else echo full; fi
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
# nofail so that a host whose volume is missing still boots, and ordered before
# docker.service, so that after a reboot docker starts the containers (restart:
# unless-stopped) only once the mount is done: nofail alone lets the boot go on without
# waiting for it, and the services would start on an empty /data on the root disk.
fstab_entry() {
    local uuid=$1 dir=$2 type=$3
    printf 'UUID=%s %s %s defaults,nofail,x-systemd.before=docker.service 0 2\n' "$uuid" "$dir" "$type"
}

# The docker.service drop-in for the mount point $1: docker starts only with it mounted
# (RequiresMountsFor: ordered after the mount, and not started when the mount failed).
docker_dropin() {
    printf '%s\n' \
        "# Written by deploy/dev bin/data-volume.sh: the containers keep their data under $1," \
        "# the EBS data volume; docker starts them only once it is mounted, never on the root disk." \
        "[Unit]" \
        "RequiresMountsFor=$1"
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
        --query "Volumes[0].[State, AvailabilityZone, Attachments[0].InstanceId || 'none', Attachments[0].State || 'none', Attachments[0].Device || 'none', Size]" \
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

# Prints the state and the environment id (`none` without the tag) of the instance $1;
# `gone none` when EC2 no longer knows it.
describe_instance() {
    local out
    if ! out=$(aws ec2 describe-instances --region "$REGION" --instance-ids "$1" \
        --query "Reservations[0].Instances[0].[State.Name, Tags[?Key=='$ENVIRONMENT_TAG'].Value | [0] || 'none']" \
        --output text 2>"$ERRORS"); then
        case $(<"$ERRORS") in
        *InvalidInstanceID.NotFound*) echo "gone none" ;;
        *UnauthorizedOperation* | *AccessDenied*)
            die "cannot describe the instance $1 (the instance role needs ec2:DescribeInstances): $(<"$ERRORS")"
            ;;
        *) die "cannot describe the instance $1: $(<"$ERRORS")" ;;
        esac
        return 0
    fi
    printf '%s\n' "$out"
}

request_attach() {
    log "attaching $VOLUME_ID to $INSTANCE_ID as $ATTACH_DEVICE"
    if ! aws ec2 attach-volume --region "$REGION" --volume-id "$VOLUME_ID" --instance-id "$INSTANCE_ID" \
        --device "$ATTACH_DEVICE" >/dev/null 2>"$ERRORS"; then
        case $(<"$ERRORS") in
        # Somebody else took it between our look and our call: the next look tells (and
        # when it is available again, attach_decision asks for it again).
        *VolumeInUse* | *IncorrectState*) log "attach-volume: $(<"$ERRORS")" ;;
        *) die "cannot attach $VOLUME_ID to $INSTANCE_ID: $(<"$ERRORS")" ;;
        esac
    fi
}

# Attaches the volume to this instance; sets ATTACHED_DEVICE (the name it is attached
# under) and VOLUME_GIB (its size).
attach_volume() {
    local deadline=$((SECONDS + ATTACH_TIMEOUT)) requests=0 my_env="" held=""
    local info state zone holder attachment device size decision holder_state holder_env
    while :; do
        info=$(describe_volume)
        read -r state zone holder attachment device size <<<"$info"
        decision=$(attach_decision "$state" "$zone" "$holder" "$attachment" "$INSTANCE_ID" "$ZONE" "$requests")
        held=""
        case $decision in
        ready)
            log "$VOLUME_ID is attached to this instance ($INSTANCE_ID) as $device"
            ATTACHED_DEVICE=$device
            VOLUME_GIB=$size
            return 0
            ;;
        attach)
            request_attach
            requests=$((requests + 1))
            ;;
        fail*) die "cannot use the data volume $VOLUME_ID: ${decision#fail }" ;;
        wait-release)
            if [[ -z "$my_env" ]]; then
                info=$(describe_instance "$INSTANCE_ID")
                read -r _ my_env <<<"$info"
            fi
            info=$(describe_instance "$holder")
            read -r holder_state holder_env <<<"$info"
            held=$(holder_decision "$holder" "$attachment" "$holder_state" "$holder_env" "$my_env")
            [[ "$held" != fail* ]] || die "cannot use the data volume $VOLUME_ID: ${held#fail }"
            held=${held#wait }
            log "waiting for $VOLUME_ID: it is still attached to $holder ($attachment): $held"
            ;;
        wait-attach) log "waiting for $VOLUME_ID to be attached to $INSTANCE_ID ($state, $attachment)" ;;
        wait-create) log "waiting for $VOLUME_ID to be created" ;;
        esac
        if ((SECONDS >= deadline)); then
            if [[ -n "$held" ]]; then
                die "timed out after ${ATTACH_TIMEOUT}s: the data volume $VOLUME_ID is still attached to $holder ($attachment: $held); the instance this one replaces must be terminated (or the volume detached from it) first"
            fi
            die "timed out after ${ATTACH_TIMEOUT}s waiting for the data volume $VOLUME_ID to be attached to $INSTANCE_ID (it is $state, attachment $attachment)"
        fi
        sleep "$POLL_INTERVAL"
    done
}

# Prints the volume's block device once the kernel has named it. On Nitro the NVMe
# device's by-id link (the volume id is its serial number) is the only name trusted: the
# NVMe device numbers follow the order of discovery. On Xen the volume has no serial, and
# the kernel names the device after the attach name (/dev/sdf -> /dev/xvdf): that name is
# used only when the volume is attached under ATTACH_DEVICE and the device has its size.
wait_for_device() {
    local link deadline=$((SECONDS + DEVICE_TIMEOUT)) kind device bytes expected
    kind=$(hypervisor)
    if [[ "$kind" == xen ]]; then
        [[ "$ATTACHED_DEVICE" == "$ATTACH_DEVICE" ]] ||
            die "the data volume $VOLUME_ID is attached as $ATTACHED_DEVICE, not $ATTACH_DEVICE: on this Xen instance its device is known only by the attach name; detach it and deploy again"
        link=$(xen_device "$ATTACH_DEVICE")
    else
        link=$(device_link "$VOLUME_ID")
    fi
    until [[ -b "$link" ]]; do
        ((SECONDS < deadline)) || die "the data volume $VOLUME_ID is attached but $link did not appear within ${DEVICE_TIMEOUT}s"
        log "waiting for $link"
        sleep 1
    done
    device=$(readlink -f "$link")
    if [[ "$kind" == xen ]]; then
        bytes=$(blockdev --getsize64 "$device") || die "cannot read the size of $link ($device)"
        expected=$((VOLUME_GIB << 30))
        ((bytes == expected)) ||
            die "$link ($device) is $bytes bytes but the data volume $VOLUME_ID is $VOLUME_GIB GiB ($expected bytes): refusing to take it for the volume"
        log "this is a Xen instance: the data volume is $link ($device), its size matches"
    fi
    printf '%s\n' "$device"
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
    systemd_reload "$FSTAB"
}

# systemd makes mount units from /etc/fstab and reads its drop-ins once, and keeps using
# what it read until told: tells it, when the file $1 it was told about is the host's.
systemd_reload() {
    if [[ "$1" == /etc/* ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl daemon-reload || log "systemctl daemon-reload failed: systemd reads $1 at the next boot"
    fi
}

# docker.service requires the data volume's mount (the drop-in): when the volume was
# missing at boot, docker never started, and nothing starts it later. Now that the
# volume is mounted, starts it: the platform's next step runs the containers with it.
# Only on the host (a drop-in under /etc, and systemd running).
ensure_docker_running() {
    if [[ "$DOCKER_DROPIN" == /etc/* ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        if ! systemctl is-active --quiet docker.service; then
            log "docker.service is not running (the data volume was missing at boot): starting it"
            systemctl start docker.service || die "cannot start docker.service with $DATA_DIR mounted"
        fi
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

# Prints the size in bytes of the filesystem of type $1 on the device $2 mounted at $3;
# fails for a type it cannot measure.
filesystem_bytes() {
    local type=$1 device=$2 dir=$3 size count
    case $type in
    xfs)
        read -r size count < <(xfs_info "$dir" | sed -n 's/^data *= *bsize=\([0-9]*\) *blocks=\([0-9]*\),.*/\1 \2/p')
        ;;
    ext2 | ext3 | ext4)
        count=$(dumpe2fs -h "$device" 2>/dev/null | sed -n 's/^Block count: *//p')
        size=$(dumpe2fs -h "$device" 2>/dev/null | sed -n 's/^Block size: *//p')
        ;;
    *) return 1 ;;
    esac
    [[ "$size" =~ ^[0-9]+$ && "$count" =~ ^[0-9]+$ ]] || return 1
    echo $((size * count))
}

# Grows the mounted filesystem to its device's size, after the volume was grown (infra
# grows EBS volumes in place; the kernel sees the new size, the filesystem does not).
ensure_full_size() {
    local device=$1 type fs_bytes device_bytes
    type=$(blkid -p -o value -s TYPE "$device") || die "cannot read the filesystem type of $device"
    fs_bytes=$(filesystem_bytes "$type" "$device" "$DATA_DIR") || die "cannot read the size of the $type filesystem on $device"
    device_bytes=$(blockdev --getsize64 "$device") || die "cannot read the size of $device"
    if [[ "$(grow_decision "$fs_bytes" "$device_bytes")" == full ]]; then
        log "the filesystem fills the data volume ($((fs_bytes >> 20)) MiB of $((device_bytes >> 20)) MiB)"
        return 0
    fi
    log "the data volume grew to $((device_bytes >> 20)) MiB: growing its $type filesystem ($((fs_bytes >> 20)) MiB)"
    case $type in
    xfs) xfs_growfs "$DATA_DIR" >&2 || die "xfs_growfs $DATA_DIR failed" ;;
    ext2 | ext3 | ext4) resize2fs "$device" >&2 || die "resize2fs $device failed" ;;
    *) die "cannot grow a $type filesystem" ;;
    esac
    fs_bytes=$(filesystem_bytes "$type" "$device" "$DATA_DIR") || die "cannot read the size of the $type filesystem on $device"
    log "the filesystem is now $((fs_bytes >> 20)) MiB"
}

# Makes docker.service require the mount (see docker_dropin).
ensure_docker_dropin() {
    local content tmp
    content=$(docker_dropin "$DATA_DIR")
    if [[ -f "$DOCKER_DROPIN" && "$(<"$DOCKER_DROPIN")" == "$content" ]]; then
        log "$DOCKER_DROPIN already makes docker wait for $DATA_DIR"
        return 0
    fi
    mkdir -p "$(dirname "$DOCKER_DROPIN")"
    tmp=$(mktemp "$DOCKER_DROPIN.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$DOCKER_DROPIN"
    log "wrote $DOCKER_DROPIN: docker.service requires $DATA_DIR mounted"
    systemd_reload "$DOCKER_DROPIN"
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
    ensure_full_size "$device"
    ensure_data_directories
    ensure_docker_dropin
    ensure_docker_running
    ensure_max_map_count
}

# Sourced (by a test, for the decision functions), it only defines them.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
