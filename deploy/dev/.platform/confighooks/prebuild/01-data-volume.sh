#!/bin/bash
# Elastic Beanstalk prebuild platform hook, on every configuration-only deployment (EB runs confighooks then):
# make /data the stack's EBS data volume (attach, filesystem, mount, directories).
# The work is in bin/data-volume.sh, beside docker-compose.yml (three levels up from here).
set -euo pipefail
exec bash "$(dirname "$0")/../../../bin/data-volume.sh" "$@"
