#!/usr/bin/env bash
# Fails when anything generated (zz_generated.*, generated.proto and
# generated.pb.go and the protobuf tags in types.go, pkg/generated, the CRD,
# the API rule report) differs from what hack/update-codegen.sh writes now. It
# runs the generators in a temporary copy of the repository and compares the
# copy with the work tree, which it never writes: an interrupted run leaves
# nothing behind but the temporary copy, which it removes on exit.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
copy="${scratch}/leaderhub"
mkdir -p "${copy}"
# The tracked files and the untracked ones git does not ignore, as they are
# in the work tree now (so uncommitted changes are verified too).
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e "${f}" ]] && printf '%s\0' "${f}"
done | tar --null -T - -cf - | tar -xf - -C "${copy}"

"${copy}/hack/update-codegen.sh" >"${scratch}/update.log" 2>&1 || {
  cat "${scratch}/update.log"; echo "verify-codegen: hack/update-codegen.sh failed" >&2; exit 1; }

generated=(pkg/generated client/generated artifacts/crds charts/leaderhub/files/crds hack/api-rules-violations.list)
while IFS= read -r f; do generated+=("${f}"); done < <(cd "${copy}" && find pkg/apis api -name 'zz_generated.*.go')
while IFS= read -r f; do generated+=("${f}"); done < <(find pkg/apis api -name 'zz_generated.*.go')
# Protobuf: the IDL, the marshalling code, and the types whose protobuf
# struct tags go-to-protobuf writes.
for pkg in api/leaderhub/v1alpha1; do
  generated+=("${pkg}/generated.proto" "${pkg}/generated.pb.go" "${pkg}/types.go")
done

stale=0
for path in $(printf '%s\n' "${generated[@]}" | sort -u); do
  if ! diff -ruN "${path}" "${copy}/${path}" >>"${scratch}/diff"; then
    stale=1
  fi
done
if (( stale )); then
  head -n 200 "${scratch}/diff"
  echo >&2
  echo "verify-codegen: generated code is stale; run 'make codegen' (hack/update-codegen.sh) and commit the result" >&2
  exit 1
fi
echo "verify-codegen: generated code is up to date"
