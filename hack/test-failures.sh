#!/usr/bin/env bash
# Prints, from a `go test -v` log, for every failed test the last 40 lines of
# its output and then what it said (its t.Log and t.Error lines, which name
# the file and line), the first lines of any panic, and the package results. make
# test-integration calls it on failure, so the failures end a CI log instead
# of the control plane's logs that a failed test dumps.
set -o errexit -o nounset -o pipefail
log=${1:?usage: hack/test-failures.sh LOG}
awk '
  /^=== (RUN|CONT)   / { cur = $3; sub(/\/.*/, "", cur); next }
  /^\s*--- FAIL: /     { failed[++n] = $3; sub(/\/.*/, "", failed[n]) }
  /^panic: /           { panicking = 40 }
  panicking > 0        { panics = panics $0 "\n"; panicking-- }
  /^(panic:|FAIL|ok  )/ { tail[++m] = $0 }
  cur != "" {
    buf[cur] = buf[cur] $0 "\n"
    if ($0 ~ /^[ \t]+[A-Za-z0-9_.-]+\.go:[0-9]+: /) said[cur] = said[cur] substr($0, 1, 600) "\n"
  }
  END {
    print "==== failed tests:"
    for (i = 1; i <= n; i++) {
      t = failed[i]
      if (t in shown) continue
      shown[t] = 1
      k = split(buf[t], lines, "\n")
      printf "---- %s (last lines of its output):\n", t
      for (j = (k > 41 ? k - 41 : 1); j <= k; j++) if (lines[j] != "") print lines[j]
      printf "---- %s said:\n%s", t, said[t]
    }
    if (panics != "") printf "==== panic:\n%s", panics
    for (i = 1; i <= m; i++) print tail[i]
  }' "$log"
