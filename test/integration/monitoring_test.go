package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/leaderhub/leaderhub/test/framework"
)

// grafanaDashboard is the chart's dashboard.
const grafanaDashboard = "charts/leaderhub/files/grafana-dashboard.json"

// monitoringExpressions are every PromQL expression of the chart's alert
// rules and dashboard, by where they are.
func monitoringExpressions(t *testing.T) map[string]string {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	raw, err := os.ReadFile(filepath.Join(root, alertRules))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("%s: %v", alertRules, err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	raw, err = os.ReadFile(filepath.Join(root, grafanaDashboard))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", grafanaDashboard, err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for i, q := range p.Targets {
			out["panel "+p.Title+" #"+string(rune('A'+i))] = q.Expr
		}
	}
	return out
}

var leaderhubMetricName = regexp.MustCompile(`\bleaderhub_[a-z0-9_]+`)

// exportedFamily is the metric family a series name belongs to: a
// histogram's _bucket, _count and _sum series are its family's.
func exportedFamily(name string, families map[string]bool) bool {
	if families[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && families[base] {
			return true
		}
	}
	return false
}

// testMonitoringNamesExportedMetrics: every expression of the chart's
// alerts and dashboard names only metrics that a running leaderhub with
// every controller (the elector too) exports, so that no panel or alert is
// silently empty.
func (e *clusterEnv) testMonitoringNamesExportedMetrics(t *testing.T) {
	lh, err := e.cp.StartLeaderHub(testContext(t, time.Minute), framework.LeaderHubOptions{Name: "leaderhub-every-controller",
		User: "leaderhub-every-controller", Groups: []string{"system:masters"},
		Args: []string{"--controllers=*,hubleader", "--leader-elect-resource-name=leaderhub-every-controller"}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	// The controllers have synced the pools this test's other parts left:
	// every metric of theirs has a series.
	waitFor := func(series string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for seriesValue(t, scrapeFrom(t, e.cp, lh), series) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s stayed 0", series)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("leaderhub_controller_leader")
	waitFor(`leaderhub_hubleader_running`)
	page := scrapeFrom(t, e.cp, lh)
	families := map[string]bool{}
	for _, line := range strings.Split(page, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			families[strings.Fields(name)[0]] = true
		}
	}
	exprs := monitoringExpressions(t)
	checked := 0
	for where, expr := range exprs {
		names := leaderhubMetricName.FindAllString(expr, -1)
		if len(names) == 0 && !strings.Contains(expr, "up{") {
			t.Errorf("%s names no leaderhub metric: %s", where, expr)
		}
		for _, name := range names {
			checked++
			if !exportedFamily(name, families) {
				t.Errorf("%s names %s, which leaderhub does not export: %s", where, name, expr)
			}
		}
	}
	var exported []string
	for f := range families {
		if strings.HasPrefix(f, "leaderhub_") {
			exported = append(exported, f)
		}
	}
	slices.Sort(exported)
	t.Logf("%d expressions name %d leaderhub metrics, all exported (of %d leaderhub families)", len(exprs), checked, len(exported))
}
