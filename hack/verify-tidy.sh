#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum of leaderhub or of
# any tools module under hack/tools.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
status=0
while IFS= read -r mod; do
  dir=$(dirname "${mod}")
  (cd "${dir}" && go mod tidy -diff) || { echo "verify-tidy: run 'go mod tidy' in ${dir#"${ROOT}"/}" >&2; status=1; }
done < <(find "${ROOT}" -name go.mod -not -path '*/_output/*')
exit "${status}"
