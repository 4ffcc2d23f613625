#!/bin/bash
# Elastic Beanstalk platform hook: before the containers start, write the
# instance's private IP to .env as HOST_IP, which every Redis node announces to
# the other nodes and to clients. Elastic Beanstalk picks the instance, so its
# address is only known here, on the instance itself (IMDSv2).
set -euo pipefail
token=$(curl -sS -X PUT "http://169.254.169.254/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
ip=$(curl -sS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/local-ipv4")
grep -v '^HOST_IP=' .env > .env.new 2>/dev/null || true
echo "HOST_IP=$ip" >> .env.new
mv .env.new .env
