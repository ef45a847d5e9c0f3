#!/usr/bin/env bash
# Build a real kube-apiserver (Kubernetes 1.20.2) from Debian bookworm's *source* package, once,
# into $1 (default ~/.cache/jobyard/kube-1.20.2): no registry ships kube-apiserver here, and
# Debian's etcd-server (3.4) is its store. The operator's end-to-end test starts both on
# loopback (tests/operator/test_real_apiserver.py). ~8-15 minutes cold on 2 cores, 1.4 GB peak;
# later runs find the binary and exit at once.
#
# Steps (the recipe in ../shared/recipes/kube-apiserver, made one script):
#   1. the source (`apt-get source --download-only kubernetes`, with a private deb-src list so
#      the machine's apt sources are not touched) and Debian's Go 1.19 (`apt-get download`);
#   2. generate the OpenAPI definitions the tarball lacks (openapi-gen);
#   3. replace vendored modern-go/reflect2 1.0.1 with Debian's 1.0.2 (1.0.1 crashes under
#      Go >= 1.18 at the first custom resource);
#   4. `go build` kube-apiserver in GOPATH mode (GO111MODULE=off), stripped.
set -euo pipefail
dest="${1:-${JOBYARD_KUBE_CACHE:-$HOME/.cache/jobyard/kube-1.20.2}}"
binary="$dest/bin/kube-apiserver"
if [ -x "$binary" ] && [[ "$("$binary" --version 2>/dev/null || true)" == *v1.20.2* ]]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
apt-get update -qq  # apt-get download below needs current package lists, whatever is installed
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
work="$dest/build"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/debs" "$dest/bin"
cd "$work"

echo "kube-apiserver: fetching Debian's kubernetes source and Go 1.19 ($(date +%T))"
mirror="$(grep -hoE '^URIs:[[:space:]]+https?://[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
echo "deb-src $mirror bookworm main" > src.list
apt_src=(-o Dir::Etc::SourceList="$work/src.list" -o Dir::Etc::SourceParts=/dev/null
         -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root)
apt-get "${apt_src[@]}" update -qq
apt-get "${apt_src[@]}" source --download-only -qq kubernetes >/dev/null
dpkg-source --no-check -x kubernetes_*.dsc src >/dev/null
(cd debs && apt-get download -qq golang-1.19-go golang-1.19-src golang-github-modern-go-reflect2-dev)
for deb in debs/*.deb; do dpkg -x "$deb" root; done

export GOROOT="$work/root/usr/lib/go-1.19" GOPATH="$work/gopath" GOCACHE="$work/gocache"
export PATH="$GOROOT/bin:$PATH" GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOTOOLCHAIN=local GOFLAGS=
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$work/src" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

rm -rf vendor/github.com/modern-go/reflect2
cp -r "$work/root/usr/share/gocode/src/github.com/modern-go/reflect2" vendor/github.com/modern-go/reflect2

echo "kube-apiserver: generating OpenAPI definitions ($(date +%T))"
nice -n 10 go build -o "$work/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
dirs="$(find -L pkg cmd vendor/k8s.io -name '*.go' -not -path '*/testdata/*' -print0 \
  | xargs -0 grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' | xargs -n1 dirname \
  | LC_ALL=C sort -u | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/')"
inputs="$(echo "$dirs" | sed 's#^#k8s.io/kubernetes/#' | paste -sd, -)"
nice -n 10 "$work/openapi-gen" --logtostderr=false -i "$inputs" -p k8s.io/kubernetes/pkg/generated/openapi \
  -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$work/openapi-violations.report"

echo "kube-apiserver: building ($(date +%T))"
ldflags="-s -w"
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v1.20.2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=20 -X $pkg.gitTreeState=clean"
done
nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$binary.tmp" ./cmd/kube-apiserver
mv "$binary.tmp" "$binary"
cd /
rm -rf "$work"
"$binary" --version
