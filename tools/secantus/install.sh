#!/usr/bin/env bash
# Build the SecantusDB Rust server (crate secantus-mdb, binary secantusd-rs) into $1
# (default .tools/secantus), once: a MongoDB-wire server much faster per operation than the
# Python one, and durable per commit (--sync-on-commit), which the fault suite needs.
# Needs a C compiler and cmake (it builds a bundled WiredTiger); ~6-15 minutes cold.
# The crate wants rustc 1.98, which rustup fetches if the machine's toolchain is older.
# Optional: without Rust the tests use the Python server (make run's default) instead.
set -euo pipefail
version="0.5.3-beta.196"
toolchain="1.98"
dest="${1:-.tools/secantus}"
binary="$dest/bin/secantusd-rs"
# Whole outputs into variables, never `| head` or `| grep -q` under pipefail: an early-closing
# reader kills the writer with SIGPIPE (exit 141), which here would mean a needless rebuild.
if [ -x "$binary" ] && [[ "$("$binary" --help 2>/dev/null || true)" == *"$version"* ]]; then
  exit 0
fi
if ! command -v rustup >/dev/null || ! command -v cc >/dev/null; then
  echo "secantusd-rs not built (no Rust toolchain or C compiler): the tests use the Python server" >&2
  exit 0
fi
if ! command -v cmake >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake >/dev/null
  else
    echo "secantusd-rs not built: cmake is missing (Debian: apt-get install cmake); the tests use the Python server" >&2
    exit 0
  fi
fi
[[ $'\n'"$(rustup toolchain list)" == *$'\n'"$toolchain"* ]] || rustup toolchain install "$toolchain" --profile minimal
target="${CARGO_TARGET_DIR:-$(mktemp -d)}"
CARGO_TARGET_DIR="$target" cargo "+$toolchain" install secantus-mdb --version "$version" --locked --root "$dest"
help="$("$binary" --help)"
echo "${help%%$'\n'*}"
