#!/usr/bin/env bash
# Run a command with the suite's databases as containers through testcontainers-python:
# podman's Docker-compatible API on a socket of its own (no Docker engine needed), the local
# Redis and MongoDB stand-in images `make images` built. Usage: testcontainers.sh COMMAND...
set -euo pipefail
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${JOBYARD_CONTAINERS_CONF:-$PWD/.tools/containers/containers.conf}"
socket="$(mktemp -u /tmp/jobyard-podman-XXXXXX.sock)"
podman system service --time=0 "unix://$socket" &
service=$!
trap 'kill "$service" 2>/dev/null; wait "$service" 2>/dev/null; rm -f "$socket"' EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "testcontainers: podman's socket did not come up" >&2; exit 1; }
export DOCKER_HOST="unix://$socket" TESTCONTAINERS_RYUK_DISABLED=true \
  TESTCONTAINERS_CONNECTION_MODE=docker_host JOBYARD_TEST_CONTAINERS=1 \
  JOBYARD_TEST_REDIS_IMAGE=localhost/jobyard-redis:dev JOBYARD_TEST_MONGODB_IMAGE=localhost/jobyard-mongo:dev
"$@"
