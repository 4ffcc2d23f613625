#!/bin/bash
# Elastic Beanstalk prebuild platform hook, on every deployment,
# after 01-data-volume.sh (hooks in one directory run in the lexicographical order of
# their names): write this host's address where the Redis nodes' configs include it
# (/data/redis-N/announce.conf), and move their saved cluster state to it if it changed.
# The work is in bin/announce-address.sh, beside docker-compose.yml (three levels up from here).
set -euo pipefail
exec bash "$(dirname "$0")/../../../bin/announce-address.sh" "$@"
