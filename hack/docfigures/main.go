// Command docfigures checks that the figures docs/operations.md and the
// chart's values quote from docs/benchmarks.md are the report's, and that
// the sizing the docs derive from them (per 10,000 edge nodes, per 1,000
// pools, the chart's defaults for a stated fleet) is computed from the same
// figures. `make verify` runs it (hack/verify-doc-figures.sh); after
// `make bench` changes a figure, update the docs until it passes.
package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	if err := check(root); err != nil {
		fmt.Fprintf(os.Stderr, "verify-doc-figures: %v\n", err)
		os.Exit(1)
	}
}

// figures are what the docs quote from the bench report.
type figures struct {
	baseKiB, watchKiB, poolKiB, nodeBytes float64
	viewCPU, electorCPU, resyncCPU        string // "69 µs"
	idle                                  string // "47 ms/s"
	watches10kSeconds                     string // "15"
	viewJSON, viewProtobuf                string // "876 B", per leader change and watcher
}

// row returns the cells of the first table row of report whose first cell
// starts with prefix.
func row(report, prefix string) ([]string, error) {
	for _, line := range strings.Split(report, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "*")
		}
		if strings.HasPrefix(cells[0], prefix) {
			return cells, nil
		}
	}
	return nil, fmt.Errorf("docs/benchmarks.md has no table row starting %q", prefix)
}

var number = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

func value(cell string) (float64, error) {
	m := number.FindString(cell)
	if m == "" {
		return 0, fmt.Errorf("no number in %q", cell)
	}
	return strconv.ParseFloat(m, 64)
}

func read(report string) (figures, error) {
	var f figures
	var errs []error
	get := func(prefix string, col int, into *float64) []string {
		cells, err := row(report, prefix)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if into != nil {
			if *into, err = value(cells[col]); err != nil {
				errs = append(errs, fmt.Errorf("%q: %w", prefix, err))
			}
		}
		return cells
	}
	get("leaderhub-apiserver (view)", 5, &f.watchKiB)
	if rss := get("RSS", 1, &f.baseKiB); rss != nil {
		if f.poolKiB, _ = value(rss[len(rss)-1]); f.poolKiB == 0 {
			errs = append(errs, fmt.Errorf("no RSS per pool in %q", rss))
		}
	}
	get("view server Go heap per Node", 1, &f.nodeBytes)
	cpu := func(prefix string) string {
		cells := get(prefix, 1, nil)
		if cells == nil {
			return ""
		}
		return strings.Fields(cells[1])[0] + " µs"
	}
	f.viewCPU = cpu("… view server CPU per Node update")
	f.electorCPU = cpu("… elector CPU per Node update")
	if cells := get("… view server CPU per Node update", 1, nil); cells != nil {
		if m := regexp.MustCompile(`idle: ([0-9]+ ms/s)`).FindStringSubmatch(cells[1]); m != nil {
			f.idle = m[1]
		}
	}
	if cells := get("… leaderhub CPU time", 1, nil); cells != nil {
		if m := regexp.MustCompile(`([0-9]+ µs) per pool`).FindStringSubmatch(cells[1]); m != nil {
			f.resyncCPU = m[1]
		}
	}
	if cells := get("10000", 6, nil); cells != nil {
		f.watches10kSeconds = strings.TrimSuffix(cells[len(cells)-1], "s")
	}
	if m := regexp.MustCompile(`Per leader change and watcher: view ([0-9]+ B) in JSON, ([0-9]+ B) in protobuf`).FindStringSubmatch(report); m != nil {
		f.viewJSON, f.viewProtobuf = m[1], m[2]
	} else {
		errs = append(errs, errors.New("docs/benchmarks.md has no \"Per leader change and watcher\" line (scenario 1)"))
	}
	return f, errors.Join(errs...)
}

func mib(kib float64) float64 { return kib / 1024 }

// steady is a replica's memory at rest, in MiB, with all of nodes' watches
// and 1,000 pools.
func (f figures) steady(nodes float64) float64 {
	return mib(f.baseKiB) + nodes*mib(f.watchKiB) + nodes*f.nodeBytes/(1<<20) + 1000*mib(f.poolKiB)
}

func check(root string) error {
	load := func(rel string) (string, error) {
		b, err := os.ReadFile(filepath.Join(root, rel))
		// Docs wrap lines: compare with every run of white space as one space.
		return strings.Join(strings.Fields(string(b)), " "), err
	}
	report, err := os.ReadFile(filepath.Join(root, "docs/benchmarks.md"))
	if err != nil {
		return err
	}
	f, err := read(string(report))
	if err != nil {
		return err
	}
	ops, err := load("docs/operations.md")
	if err != nil {
		return err
	}
	values, err := load("charts/leaderhub/values.yaml")
	if err != nil {
		return err
	}
	readme, err := load("README.md")
	if err != nil {
		return err
	}
	var errs []error
	quote := func(doc, name, text string) {
		if !strings.Contains(doc, text) {
			errs = append(errs, fmt.Errorf("%s does not say %q (from docs/benchmarks.md)", name, text))
		}
	}
	const opsName = "docs/operations.md"
	atRest := math.Round(f.steady(2000)/10) * 10
	quote(ops, opsName, fmt.Sprintf("| the empty server | %.0f MiB RSS", mib(f.baseKiB)))
	quote(ops, opsName, fmt.Sprintf("| %s KiB of RSS: the request's goroutine", strconv.FormatFloat(f.watchKiB, 'f', -1, 64)))
	quote(ops, opsName, fmt.Sprintf("| %s KiB of RSS: the view's entry", strconv.FormatFloat(f.poolKiB, 'f', -1, 64)))
	quote(ops, opsName, fmt.Sprintf("| %.0f B of Go heap: the Node cache", f.nodeBytes))
	quote(ops, opsName, fmt.Sprintf("| per 10,000 edge nodes | %.0f MiB for their watches + %.0f MiB for their Nodes",
		10000*mib(f.watchKiB), 10000*f.nodeBytes/(1<<20)))
	quote(ops, opsName, fmt.Sprintf("costs %s in the view server (its Node cache and election tracker) and %s in the elector", f.viewCPU, f.electorCPU))
	quote(ops, opsName, fmt.Sprintf("| per 1,000 pools | %.1f MiB | a resync syncs every pool, %s each", 1000*mib(f.poolKiB), f.resyncCPU))
	quote(ops, opsName, fmt.Sprintf("| the base | %.0f MiB | %s idle", mib(f.baseKiB), f.idle))
	quote(ops, opsName, fmt.Sprintf("(10,000 in %s s through the aggregator, scenario 4)", f.watches10kSeconds))
	quote(ops, opsName, fmt.Sprintf("(about %.0f MiB at rest)", atRest))
	quote(values, "charts/leaderhub/values.yaml", fmt.Sprintf("about %.0f MiB at rest", atRest))
	quote(readme, "README.md", fmt.Sprintf("costs a watcher %s per leader change instead of %s", f.viewProtobuf, f.viewJSON))

	// The chart's defaults and the table of larger fleets: requests cover
	// the steady state, limits about twice it.
	sizes := regexp.MustCompile(`\| (?:up to )?([0-9,]+)(?: \(the default\))? \| ([0-9]+)Mi \| ([0-9]+)Mi \|`)
	rows := sizes.FindAllStringSubmatch(ops, -1)
	if len(rows) == 0 {
		errs = append(errs, errors.New("docs/operations.md has no sizing table (edge nodes | requests | limits)"))
	}
	for _, m := range rows {
		nodes, _ := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
		request, _ := strconv.ParseFloat(m[2], 64)
		limit, _ := strconv.ParseFloat(m[3], 64)
		if s := f.steady(nodes); request < s || limit < 1.9*s {
			errs = append(errs, fmt.Errorf("sizing for %s edge nodes: %.0fMi requested and %.0fMi limit, for %.0f MiB at rest (want a request at least that, a limit about twice)",
				m[1], request, limit, s))
		}
		if strings.Contains(m[0], "(the default)") &&
			!strings.Contains(values, fmt.Sprintf("requests: cpu: 100m memory: %sMi limits: memory: %sMi", m[2], m[3])) {
			errs = append(errs, fmt.Errorf("charts/leaderhub/values.yaml resources are not the documented default (%sMi, %sMi)", m[2], m[3]))
		}
	}
	return errors.Join(errs...)
}
