#!/bin/bash
# Elastic Beanstalk postdeploy platform hook, on every deployment:
# create the Redis cluster on the first deployment, check it on every later one.
# The work is in bin/redis-cluster.sh, beside docker-compose.yml (three levels up from here).
set -euo pipefail
exec bash "$(dirname "$0")/../../../bin/redis-cluster.sh" "$@"
