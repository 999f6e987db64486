#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum of leaderhub or of
# any tools module under hack/tools. hack/tools/yurthub is left out: it only
# pins OpenYurt's version and checksum for hack/build-yurthub.sh, which builds
# a patched copy as its own main module; nothing in it imports OpenYurt (its
# go.mod replaces k8s.io/kubernetes, which a dependency's go.mod cannot), so
# tidy would drop the pin.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
status=0
while IFS= read -r mod; do
  dir=$(dirname "${mod}")
  (cd "${dir}" && go mod tidy -diff) || { echo "verify-tidy: run 'go mod tidy' in ${dir#"${ROOT}"/}" >&2; status=1; }
done < <(find "${ROOT}" -name go.mod -not -path '*/_output/*' -not -path '*/hack/tools/yurthub/*')
exit "${status}"
