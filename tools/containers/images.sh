#!/usr/bin/env bash
# make images: one image per service from deploy/Dockerfile (localhost/jobyard-<service>:dev),
# and the stand-ins the container tests run beside them (Redis, the MongoDB stand-in, the
# ingress proxy, the sample feeds), all from the local base image (tools/containers/setup.sh):
# no registry is needed. Where one exists, `podman build --build-arg PYTHON_IMAGE=...` or plain
# `docker build -f deploy/Dockerfile --target api .` builds the same Dockerfile from the official
# python:3.11-slim-bookworm. Prints each image's size. Usage: images.sh [service...]
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/containers/setup.sh
export CONTAINERS_CONF="${JOBYARD_CONTAINERS_CONF:-$PWD/.tools/containers/containers.conf}"
tag="${JOBYARD_IMAGE_TAG:-dev}"
services=("$@")
[ "${#services[@]}" -gt 0 ] || services=(auth api scheduler worker monitor console operator)
build() {  # name context [podman build args...]
  local name="$1" started
  started=$(date +%s)
  shift
  if ! podman build --pull=never --format docker --layers -t "localhost/jobyard-$name:$tag" "$@" \
      > ".tools/containers/build-$name.log" 2>&1; then
    tail -30 ".tools/containers/build-$name.log" >&2
    echo "images: building jobyard-$name failed (log: .tools/containers/build-$name.log)" >&2
    exit 1
  fi
  echo "images: jobyard-$name built in $(( $(date +%s) - started )) s"
}
for service in "${services[@]}"; do
  build "$service" -f deploy/Dockerfile --target "$service" .
done
if [ "$#" -eq 0 ]; then
  mongo_version="$(awk '/^name = "secantusdb"$/ {getline; print $3; exit}' uv.lock | tr -d '"')"
  build mongo --build-arg "SECANTUSDB_VERSION=$mongo_version" deploy/local/mongo
  build redis deploy/local/redis
  build proxy deploy/local/proxy
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' --filter reference='localhost/jobyard-*' | sort
