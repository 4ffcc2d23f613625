#!/bin/bash
# Elastic Beanstalk predeploy platform hook, on every deployment:
# write HOST_IP to .env, and move the Redis nodes' saved state to it if the address changed.
# The work is in bin/host-ip.sh, beside docker-compose.yml (three levels up from here).
set -euo pipefail
exec bash "$(dirname "$0")/../../../bin/host-ip.sh" "$@"
