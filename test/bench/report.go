package main

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type report struct {
	cfg      config
	sections []string
	failures []string
	duration time.Duration
}

func newReport(c config) *report { return &report{cfg: c} }

func (r *report) section(title, params string, header []string, rows [][]string, notes ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n%s\n\n", title, params)
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\n%s\n", n)
	}
	r.sections = append(r.sections, b.String())
}

// mergeInto returns the report at path with this run's sections in place
// of the ones it has under the same numbers, or added in their numbered
// place: the large run adds its section to the default run's report.
func (r *report) mergeInto(path string) (string, error) {
	old, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("the report to add the large run to: %w", err)
	}
	parts := strings.Split(string(old), "\n## ")
	head, sections := parts[0]+"\n", make([]string, 0, len(parts))
	for _, p := range parts[1:] {
		sections = append(sections, "## "+strings.TrimRight(p, "\n")+"\n")
	}
	for _, mine := range r.sections {
		sections = slices.DeleteFunc(sections, func(s string) bool { return sectionNumber(s) == sectionNumber(mine) })
		sections = append(sections, mine)
	}
	if len(r.failures) > 0 {
		head += "**The large run failed:**\n\n" + strings.Join(r.failures, "\n") + "\n\n"
	}
	slices.SortStableFunc(sections, func(a, b string) int { return cmp.Compare(sectionNumber(a), sectionNumber(b)) })
	return head + strings.Join(sections, "\n"), nil
}

func (r *report) failed(scenario string, err error) {
	r.failures = append(r.failures, fmt.Sprintf("- `%s`: %v", scenario, err))
}

func kubeVersion() string {
	out, err := exec.Command("_output/bin/kube-apiserver", "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`go run ./test/bench`), which starts a real etcd, kube-apiserver and\n")
	b.WriteString("leaderhub-apiserver (registered as an APIService) on loopback and measures leaderhub against\n")
	b.WriteString("what a user would do instead, in the same run on the same machine. Absolute times on a shared\n")
	b.WriteString("2-core machine are noisy; the ratios are the point. Go `testing.B` benchmarks of the hot paths\n")
	b.WriteString("are at the end.\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Versions: %s, etcd v3.7.3, leaderhub at this commit\n", kubeVersion())
	fmt.Fprintf(&b, "- Run: `%s` on %s, %s in all\n", r.command(), time.Now().UTC().Format("2006-01-02"), r.duration.Round(time.Second))
	b.WriteString("- Bytes are watch-stream body bytes (JSON) as the client reads them, before TLS and HTTP/2 framing.\n\n")
	b.WriteString("Rerun with `make bench`; scale any scenario with `make bench BENCH_FLAGS='-fanout-pools=500 ...'`\n")
	b.WriteString("(`go run ./test/bench -help` lists the flags).\n\n")
	if len(r.failures) > 0 {
		b.WriteString("**Scenarios that failed in this run:**\n\n" + strings.Join(r.failures, "\n") + "\n\n")
	}
	// Sections in their numbered order, whatever order the scenarios ran in;
	// unnumbered ones (the Go benchmarks) last.
	sections := slices.Clone(r.sections)
	slices.SortStableFunc(sections, func(a, b string) int { return cmp.Compare(sectionNumber(a), sectionNumber(b)) })
	for _, s := range sections {
		b.WriteString(s + "\n")
	}
	return b.String()
}

// sectionNumber is the number a section's title starts with ("## 9. ..."
// is 9, "## 1b. ..." 1); unnumbered sections sort last.
func sectionNumber(section string) int {
	title := strings.TrimPrefix(section, "## ")
	end := strings.IndexFunc(title, func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.Atoi(title[:max(end, 0)])
	if err != nil {
		return math.MaxInt
	}
	return n
}

func (r *report) command() string {
	return "go run ./test/bench " + strings.Join(flagsSet(), " ")
}

func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(p * float64(len(s)-1))
	return s[idx]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func ratio(a, b float64) string {
	if b == 0 {
		if a == 0 {
			return "—"
		}
		return "∞ (0 on the right)"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// goBenchmarks runs the Go benchmarks of the hot paths and adds their output.
func (r *report) goBenchmarks() {
	out, err := exec.Command("go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "1",
		"./pkg/projection", "./pkg/registry/leaderhub/viewstore", "./pkg/apis/leaderhub/install", "./pkg/feed", "./pkg/election").CombinedOutput()
	var lines []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "goos") || strings.HasPrefix(line, "goarch") ||
			strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "pkg") {
			lines = append(lines, line)
		}
	}
	if err != nil {
		lines = append(lines, "go test -bench failed: "+err.Error())
	}
	r.sections = append(r.sections, "## Go benchmarks of the hot paths\n\n"+
		"`go test -run '^$' -bench . -benchmem ./pkg/projection ./pkg/registry/leaderhub/viewstore ./pkg/apis/leaderhub/install ./pkg/feed ./pkg/election` "+
		"(compare runs with benchstat). FanOut delivers one leader change to every watcher of a pool, with "+
		"the other pools' watchers open too; NoopUpdate is a NodePool update that leaves the projection alone "+
		"with 10,000 watchers open; WatchEventEncode is what the API server spends per watcher and event; "+
		"EncodeWatchEvent encodes one event of the view and of the Endpoints form (the sample pool, two leaders) "+
		"in JSON and in protobuf, B/event being its size (without the managedFields kube-apiserver adds to Endpoints); "+
		"NodeCacheMemory is the heap 10,000 kubelet-like Nodes hold, per Node: whole in an informer's indexer, and "+
		"as leaderhub's Node cache keeps them (feed.Node); NodeHeartbeat is a heartbeat as the Node cache receives it: "+
		"decoding a kubelet-like Node from protobuf (the floor for any watch of Nodes), then that and the cache "+
		"finding that nothing it keeps changed; TrackerMemory is the heap the election tracker holds per pool for 10,000 "+
		"pools shaped as scenario 6's, with an election open (no Node) and at rest (leaders valid).\n\n"+
		"```\n"+strings.Join(lines, "\n")+"\n```\n")
}
