#!/usr/bin/env bash
# Builds the pinned command-line tools the project's scripts run, from the Go
# module proxy, into _output/bin (git-ignored), the way build-controlplane.sh
# builds the control plane:
#
#   hack/build-tools.sh helm golangci-lint promtool image-builder third-party-crds
#
# Each tool is pinned by the tools module under hack/tools/<module>. A pinned
# tool is rebuilt only when its version or the Go version changed (a stamp file
# next to the binary records both); the image builder is the project's own
# code and is always rebuilt (Go's build cache makes that quick).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${BIN_DIR:-${ROOT}/_output/bin}"
TOOLS="${ROOT}/hack/tools"
mkdir -p "${BIN}"

build_pinned() { # binary name, tools module dir, module path, package, extra ldflags
  local name=$1 dir=$2 module=$3 pkg=$4 ldflags=${5:-}
  local version stamp want
  version=$(cd "${dir}" && go list -m -f '{{.Version}}' "${module}")
  stamp="${BIN}/.${name}-stamp"
  want="${module}=${version} go=$(go env GOVERSION) ldflags=${ldflags//\$\{version\}/${version}}"
  if [[ -x "${BIN}/${name}" && -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    return 0
  fi
  echo "building ${name} ${version} into ${BIN} (a cold build takes a few minutes on 2 cores)"
  rm -f "${stamp}"
  local start=$SECONDS
  (cd "${dir}" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${ldflags//\$\{version\}/${version}}" -o "${BIN}/${name}" "${pkg}")
  echo "${want}" > "${stamp}"
  echo "built ${name} ${version} ($(( SECONDS - start ))s)"
}

for tool in "$@"; do
  case "${tool}" in
    helm)
      # Stamped as helm's own Makefile does: its version, and the Kubernetes
      # version of its client libraries as the default for `helm template`.
      kube_minor=$(cd "${TOOLS}/helm" && go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
      helm_ldflags='-X helm.sh/helm/v3/internal/version.version=${version}'
      for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        helm_ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${kube_minor}"
      done
      build_pinned helm "${TOOLS}/helm" helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "${helm_ldflags}" ;;
    golangci-lint)
      build_pinned golangci-lint "${TOOLS}/golangci-lint" github.com/golangci/golangci-lint/v2 \
        github.com/golangci/golangci-lint/v2/cmd/golangci-lint ;;
    promtool)
      # Prometheus's promtool, stamped with its module version; the alert
      # test has it evaluate the chart's alerting rules.
      build_pinned promtool "${TOOLS}/promtool" github.com/prometheus/prometheus \
        github.com/prometheus/prometheus/cmd/promtool '-X github.com/prometheus/common/version.Version=${version}' ;;
    image-builder)
      (cd "${TOOLS}/image" && go build -o "${BIN}/image-builder" .) ;;
    third-party-crds)
      # The CRDs of the optional objects the chart renders (prometheus-operator's
      # ServiceMonitor and PrometheusRule, cert-manager's Issuer and
      # Certificate), from those projects' modules at pinned versions (the
      # module proxy and checksum database vouch for them), so the chart test
      # can have kube-apiserver validate every values variant.
      crds="${ROOT}/_output/crds"
      want="prometheus-operator=v0.85.0 cert-manager=v1.21.2"
      if [[ ! -f "${crds}/.stamp" || "$(cat "${crds}/.stamp")" != "${want}" ]]; then
        rm -rf "${crds}" && mkdir -p "${crds}"
        # Downloaded outside any module, so no go.mod or go.sum changes.
        mod_dir() { (cd / && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); }
        po=$(mod_dir github.com/prometheus-operator/prometheus-operator@v0.85.0)
        cm=$(mod_dir github.com/cert-manager/cert-manager@v1.21.2)
        cp "${po}/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
           "${po}/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
           "${cm}/deploy/crds/cert-manager.io_issuers.yaml" \
           "${cm}/deploy/crds/cert-manager.io_clusterissuers.yaml" \
           "${cm}/deploy/crds/cert-manager.io_certificates.yaml" "${crds}/"
        chmod 644 "${crds}"/*.yaml
        echo "${want}" > "${crds}/.stamp"
      fi ;;
    *)
      echo "build-tools: unknown tool ${tool} (helm, golangci-lint, image-builder, third-party-crds)" >&2
      exit 2 ;;
  esac
done
