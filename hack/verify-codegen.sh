#!/usr/bin/env bash
# Fails when anything generated (zz_generated.*, pkg/generated, the CRD, the
# API rule report) differs from what hack/update-codegen.sh writes now. It
# regenerates into the work tree, compares with a snapshot taken first, and
# puts the snapshot back, so the work tree is left as it was found.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

generated=(pkg/generated artifacts/crds hack/api-rules-violations.list)
while IFS= read -r f; do generated+=("$f"); done < <(find pkg/apis -name 'zz_generated.*.go')

snapshot=$(mktemp -d)
trap 'rm -rf "${snapshot}"' EXIT
tar -cf "${snapshot}/before.tar" "${generated[@]}" 2>/dev/null || true
mkdir -p "${snapshot}/before" "${snapshot}/after"
tar -xf "${snapshot}/before.tar" -C "${snapshot}/before" 2>/dev/null || true

restore() {
  rm -rf pkg/generated artifacts/crds
  find pkg/apis -name 'zz_generated.*.go' -delete
  tar -xf "${snapshot}/before.tar" 2>/dev/null || true
}

"${ROOT}/hack/update-codegen.sh" >"${snapshot}/update.log" 2>&1 || {
  cat "${snapshot}/update.log"; restore; echo "verify-codegen: hack/update-codegen.sh failed" >&2; exit 1; }

after=(pkg/generated artifacts/crds hack/api-rules-violations.list)
while IFS= read -r f; do after+=("$f"); done < <(find pkg/apis -name 'zz_generated.*.go')
tar -cf - "${after[@]}" 2>/dev/null | tar -xf - -C "${snapshot}/after"
restore

if ! diff -ruN "${snapshot}/before" "${snapshot}/after" >"${snapshot}/diff"; then
  head -n 200 "${snapshot}/diff"
  echo >&2
  echo "verify-codegen: generated code is stale; run 'make codegen' (hack/update-codegen.sh) and commit the result" >&2
  exit 1
fi
echo "verify-codegen: generated code is up to date"
