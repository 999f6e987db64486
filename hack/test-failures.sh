#!/usr/bin/env bash
# Prints, from a `go test -v` log, the output of every test that failed (its
# last 40 lines) and the package results. make test-integration calls it on
# failure, so the failures end a CI log instead of the control plane's logs.
set -o errexit -o nounset -o pipefail
log=${1:?usage: hack/test-failures.sh LOG}
awk '
  /^=== (RUN|CONT)   / { cur = $3; sub(/\/.*/, "", cur); next }
  /^\s*--- FAIL: /     { failed[++n] = $3; sub(/\/.*/, "", failed[n]) }
  /^(panic:|FAIL|ok  )/ { tail[++m] = $0 }
  cur != ""            { buf[cur] = buf[cur] $0 "\n" }
  END {
    print "==== failed tests:"
    for (i = 1; i <= n; i++) {
      t = failed[i]
      if (t in shown) continue
      shown[t] = 1
      k = split(buf[t], lines, "\n")
      printf "---- %s (last lines of its output):\n", t
      for (j = (k > 41 ? k - 41 : 1); j <= k; j++) if (lines[j] != "") print lines[j]
    }
    for (i = 1; i <= m; i++) print tail[i]
  }' "$log"
