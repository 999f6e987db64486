#!/usr/bin/env bash
# Regenerates everything generated in leaderhub: deepcopy/conversion/defaults
# (zz_generated.*.go next to the types), OpenAPI definitions, the clientset,
# listers, informers and apply configurations (pkg/generated), and the NodePool
# CRD (artifacts/crds). Generators come from the pinned tools module
# hack/tools/codegen, never from leaderhub's own go.mod.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
MODULE=github.com/leaderhub/leaderhub
TOOLS="${ROOT}/hack/tools/codegen"
BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"

(cd "${TOOLS}" && go mod download k8s.io/code-generator)
CODEGEN_PKG=$(cd "${TOOLS}" && go list -m -f '{{.Dir}}' k8s.io/code-generator)
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

kube::codegen::gen_helpers \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "${ROOT}/pkg/generated/openapi" \
  --output-pkg "${MODULE}/pkg/generated/openapi" \
  --report-filename "${ROOT}/hack/api-rules-violations.list" \
  --output-model-name-file zz_generated.model_name.go \
  --update-report \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/pkg/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --applyconfig-externals "k8s.io/api/core/v1.Taint:k8s.io/client-go/applyconfigurations/core/v1" \
  --output-dir "${ROOT}/pkg/generated" \
  --output-pkg "${MODULE}/pkg/generated" \
  --boilerplate "${BOILERPLATE}" \
  "${ROOT}/pkg/apis"

# The NodePool CRD is generated from the Go types, never written by hand.
rm -rf "${ROOT}/artifacts/crds"
(cd "${TOOLS}" && go tool controller-gen \
  crd:crdVersions=v1 \
  paths="${ROOT}/pkg/apis/apps/v1beta2/..." \
  output:crd:artifacts:config="${ROOT}/artifacts/crds")
# The chart installs the same CRD when crds.install=true (a chart cannot read
# files outside its directory, so it gets a copy).
rm -rf "${ROOT}/charts/leaderhub/files/crds"
mkdir -p "${ROOT}/charts/leaderhub/files/crds"
cp "${ROOT}"/artifacts/crds/*.yaml "${ROOT}/charts/leaderhub/files/crds/"
