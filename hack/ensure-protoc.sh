#!/usr/bin/env bash
# Makes sure the pinned protoc (libprotoc 3.21.12, Debian's protobuf-compiler)
# is on PATH for hack/update-codegen.sh, installing it from Debian's packages
# when missing. protoc is a C++ program, so it cannot come from the Go module
# proxy like the other tools; the plugins it runs (protoc-gen-gogo) and
# go-to-protobuf are pinned in hack/tools/codegen.
set -o errexit -o nounset -o pipefail

WANT="libprotoc 3.21.12"
have=$(protoc --version 2>/dev/null || true)
if [[ "${have}" == "${WANT}" ]]; then
  exit 0
fi
if [[ -n "${have}" ]]; then
  echo "ensure-protoc: found ${have}, want ${WANT}; installing Debian's protobuf-compiler" >&2
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ensure-protoc: need ${WANT} (Debian package protobuf-compiler 3.21.12); install it, then retry" >&2
  exit 1
fi
# The upstream version is pinned, not the Debian revision, which point
# releases change (3.21.12-3, then 3.21.12-3+deb12u1).
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
have=$(protoc --version)
[[ "${have}" == "${WANT}" ]] || { echo "ensure-protoc: installed ${have}, want ${WANT}" >&2; exit 1; }
