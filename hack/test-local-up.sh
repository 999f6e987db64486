#!/usr/bin/env bash
# The README's first command as a newcomer runs it, in a directory of its own
# (so a demo already running is left alone): `make local-up`, then
# `kubectl get lh` through kube-apiserver's aggregation layer with the
# kubeconfig it wrote, then `make local-down`, which must leave none of the
# processes it started running.
set -o errexit -o nounset -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
dir=_output/test-local
fail() { echo "test-local-up: $*" >&2; exit 1; }
trap 'make --no-print-directory local-down LOCAL="${dir}" >/dev/null 2>&1 || true' EXIT

rm -rf "${dir}"
make --no-print-directory local-up LOCAL="${dir}"
out=$(_output/bin/kubectl --kubeconfig "${dir}/kubeconfig" get lh -n kube-system -o wide)
echo "${out}"
grep -Eq '^leader-hub-hangzhou +[^ ]+ +2/2 ' <<<"${out}" ||
  fail "kubectl get lh -o wide through the aggregator does not show leader-hub-hangzhou with READY 2/2"
available=$(_output/bin/kubectl --kubeconfig "${dir}/kubeconfig" get apiservice v1alpha1.leaderhub.openyurt.io \
  -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')
[[ "${available}" == "True" ]] || fail "APIService Available=${available}"

pids=$(cat "${dir}"/*.pid)
make --no-print-directory local-down LOCAL="${dir}"
for pid in ${pids}; do
  if [[ -e /proc/${pid} ]] && ! grep -q '^State:.*Z' "/proc/${pid}/status" 2>/dev/null; then
    fail "pid ${pid} still runs after make local-down"
  fi
done
compgen -G "${dir}/*.pid" >/dev/null && fail "pid files left in ${dir}"
trap - EXIT
echo "test-local-up: local-up, kubectl get lh through the aggregator and local-down work ($(wc -w <<<"${pids}") processes started and stopped)"
