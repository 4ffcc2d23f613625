#!/bin/bash
# Elastic Beanstalk prebuild platform hook, on every configuration-only deployment (EB runs confighooks then),
# after 01-data-volume.sh has mounted /data (hooks in one directory run in the
# lexicographical order of their names): write the Redis nodes' password (REDIS_PASSWORD) where their configs
# include it (/data/redis-N/auth.conf) and their healthchecks read it (/data/redis-N/password).
# The work is in bin/redis-auth.sh, beside docker-compose.yml (three levels up from here).
set -euo pipefail
exec bash "$(dirname "$0")/../../../bin/redis-auth.sh" "$@"
