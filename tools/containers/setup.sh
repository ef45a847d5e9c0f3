#!/usr/bin/env bash
# Make this machine run OCI containers with no Docker engine and no registry, once:
#   1. rootful podman from Debian with runc (crun 1.8 refuses this VM's hybrid cgroups),
#      netavark + aardvark-dns (containers find each other by name), iptables, catatonit;
#   2. a containers.conf ($JOBYARD_CONTAINERS_CONF, default .tools/containers/containers.conf):
#      cgroupfs and file events (no systemd), ulimits no higher than the sandbox allows;
#   3. the base image, localhost/bookworm-python:local, from Debian packages with debootstrap
#      (Debian 12 minbase + Python 3.11 + venv + pip + the host's extra CA certificates), cached
#      as a tarball in ~/.cache/jobyard and tagged python:3.11-slim-bookworm so the unchanged
#      deploy/Dockerfile builds from it (where a registry exists, the official image is pulled).
# Later runs find everything and exit within a second. Recipe: ../shared/recipes/containers.sh.
set -euo pipefail
conf="${JOBYARD_CONTAINERS_CONF:-$PWD/.tools/containers/containers.conf}"
cache="${JOBYARD_CACHE:-$HOME/.cache/jobyard}"
base=localhost/bookworm-python:local
aliases=(docker.io/library/python:3.11-slim-bookworm docker.io/library/python:3.11-slim)
export DEBIAN_FRONTEND=noninteractive CONTAINERS_CONF="$conf"

packages=(podman runc conmon netavark aardvark-dns iptables catatonit debootstrap fuse-overlayfs uidmap slirp4netns)
missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *"ok installed"* ]] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "containers: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ]; then nproc=$pidmax; fi
mkdir -p "$(dirname "$conf")"
cat > "$conf.new" <<CONF
# written by tools/containers/setup.sh
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
CONF
mv "$conf.new" "$conf"

if ! podman image exists "$base"; then
  tarball="$cache/bookworm-python.tar"
  if [ ! -s "$tarball" ]; then
    mirror="$(grep -hoE '^URIs:[[:space:]]+https?://[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    root="$(mktemp -d)"
    trap 'rm -rf "$root"' EXIT
    echo "containers: debootstrap of the base image from $mirror (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
      bookworm "$root" "$mirror" > "$root.log" 2>&1 || { tail -20 "$root.log"; exit 1; }
    cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main
SOURCES
    cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT::Install-Recommends "false";
APT
    rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED  # like python:3.11-slim: pip may install
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
      chroot "$root" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*.log
    : > "$root/etc/resolv.conf"
    mkdir -p "$cache"
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  fi
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    --message 'Debian 12 minbase + Python 3.11 (tools/containers/setup.sh)' \
    "$tarball" "$base" >/dev/null
fi
for alias in "${aliases[@]}"; do podman tag "$base" "$alias"; done
