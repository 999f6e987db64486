#!/usr/bin/env bash
# Builds upstream YurtHub with leaderhub's patch (integrations/yurthub) into
# _output/bin/yurthub: the OpenYurt release pinned by hack/tools/yurthub, from
# the Go module proxy, copied to _output/yurthub/src, patched, and built as its
# own main module with this checkout's api and client modules replacing
# leaderhub's. The build fails when leaderhub's modules would move any of
# YurtHub's k8s.io requirements. It is skipped when the stamp (OpenYurt
# version, Go version, and a digest of the patch and of the api and client
# modules' files) is already there; with a warm Go build cache a rebuild takes
# about a minute, a cold one 7-20 minutes on 2 cores.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${BIN_DIR:-${ROOT}/_output/bin}"
TOOLS="${ROOT}/hack/tools/yurthub"
PATCH="${ROOT}/integrations/yurthub/leaderhub.patch"
WORK="${ROOT}/_output/yurthub"
mkdir -p "${BIN}"

OPENYURT=github.com/openyurtio/openyurt
VERSION=$(cd "${TOOLS}" && go list -m -f '{{.Version}}' "${OPENYURT}")
digest=$(cd "${ROOT}" && { cat "${PATCH}"; git ls-files -z --cached --others --exclude-standard api client |
  xargs -0 -r sha256sum; } | sha256sum | cut -c1-16)
STAMP="${BIN}/.yurthub-stamp"
WANT="openyurt=${VERSION} go=$(go env GOVERSION) leaderhub=${digest}"
if [[ -x "${BIN}/yurthub" && -f "${STAMP}" && "$(cat "${STAMP}")" == "${WANT}" ]]; then
  echo "patched yurthub up to date in ${BIN} (${WANT})"
  exit 0
fi

echo "building patched yurthub into ${BIN} (${WANT})"
start=$(date +%s)
rm -f "${STAMP}"
src=$(cd "${TOOLS}" && go mod download -json "${OPENYURT}@${VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -d "${src}" ]] || { echo "build-yurthub: no source for ${OPENYURT}@${VERSION}" >&2; exit 1; }
rm -rf "${WORK}/src"
mkdir -p "${WORK}"
cp -r "${src}" "${WORK}/src"
chmod -R u+w "${WORK}/src"
cd "${WORK}/src"
patch -p1 --quiet --forward < "${PATCH}"

k8s_versions() {
  go list -m -f '{{.Path}} {{.Version}}' k8s.io/api k8s.io/apimachinery k8s.io/client-go k8s.io/component-base k8s.io/apiserver
}
before=$(k8s_versions)
go mod edit -require=github.com/leaderhub/leaderhub/client@v0.0.0 -require=github.com/leaderhub/leaderhub/api@v0.0.0 \
  -replace=github.com/leaderhub/leaderhub/client="${ROOT}/client" -replace=github.com/leaderhub/leaderhub/api="${ROOT}/api"
# Add what leaderhub's modules need to go.sum, and to go.mod what YurtHub's
# graph lacks; nothing already required may move (checked next).
GOFLAGS=-mod=mod go list -deps ./cmd/yurthub >/dev/null
after=$(k8s_versions)
if [[ "${before}" != "${after}" ]]; then
  echo "build-yurthub: leaderhub's modules move YurtHub's Kubernetes libraries:" >&2
  diff <(echo "${before}") <(echo "${after}") >&2 || true
  exit 1
fi
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${BIN}/yurthub" ./cmd/yurthub
echo "${WANT}" > "${STAMP}"
echo "built patched yurthub ${VERSION} with k8s.io unchanged ($(( $(date +%s) - start ))s):"
sed 's/^/  /' <<<"${after}"
