package integration

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	openyurtclient "github.com/leaderhub/leaderhub/pkg/generated/openyurt/clientset/versioned"
	"github.com/leaderhub/leaderhub/test/fixtures"
	"github.com/leaderhub/leaderhub/test/framework"
)

// alertRules is the chart's rule file, a plain Prometheus rule file.
const alertRules = "charts/leaderhub/files/prometheus-rules.yaml"

// scrapeAt is one scrape of a leaderhub: its /metrics page (nil when the
// scrape failed, as for a replica that is down) and when it was taken.
type scrapeAt struct {
	page []byte
	at   time.Time
}

// alertEvaluator has Prometheus's promtool evaluate the chart's alerting
// rules on what a running leaderhub exposes. A case is two scrapes, before
// and after a state was reached (healthy, or a fault), extrapolated over two
// hours as if that state lasted: counters keep the rate they had between the
// scrapes, gauges keep their last value, and a *_timestamp_seconds gauge
// keeps advancing if it advanced and ages otherwise. Every series gets
// job="leaderhub", and up{job="leaderhub"} is 1 if the last scrape
// succeeded, as the chart's ServiceMonitor would have it. The rules'
// expressions, durations and labels are evaluated as shipped; only their
// annotations (text for people, which promtool would compare verbatim) are
// left out of the copy promtool reads, after `promtool check rules` has
// checked them.
type alertEvaluator struct {
	promtool, rules, dir string
	names                []string // every alert in the rule file
}

func newAlertEvaluator(t *testing.T) *alertEvaluator {
	t.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	e := &alertEvaluator{promtool: filepath.Join(root, "_output", "bin", "promtool"), dir: t.TempDir()}
	if _, err := os.Stat(e.promtool); err != nil {
		t.Fatalf("promtool is not built: run `make tools` (make test does): %v", err)
	}
	rulesFile := filepath.Join(root, alertRules)
	if out, err := exec.Command(e.promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", alertRules, err, out)
	}
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string           `json:"name"`
			Rules []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		t.Fatalf("%s: %v", alertRules, err)
	}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			delete(r, "annotations")
			if name, ok := r["alert"].(string); ok {
				e.names = append(e.names, name)
			}
		}
	}
	stripped, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	e.rules = filepath.Join(e.dir, "rules.yaml")
	if err := os.WriteFile(e.rules, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// firing is what a case expects of one alert: the label sets of its firing
// alerts (besides alertname), none for silence.
type firing map[string][]map[string]string

// check evaluates the rules on before and after and fails the test unless
// every alert in want fires with exactly the given labels (or is silent).
func (e *alertEvaluator) check(t *testing.T, name string, before, after scrapeAt, want firing) {
	t.Helper()
	const steps, interval = 120, time.Minute
	series, err := extrapolate(before, after, steps, interval)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	type expAlert struct {
		ExpLabels map[string]string `json:"exp_labels"`
	}
	type alertTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	type inputSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	var tests []alertTest
	for _, alert := range slices.Sorted(maps.Keys(want)) {
		if !slices.Contains(e.names, alert) {
			t.Fatalf("%s: no alert %s in %s", name, alert, alertRules)
		}
		exp := []expAlert{}
		for _, labels := range want[alert] {
			exp = append(exp, expAlert{ExpLabels: labels})
		}
		tests = append(tests, alertTest{EvalTime: (steps * interval).String(), Alertname: alert, ExpAlerts: exp})
	}
	var input []inputSeries
	for _, s := range series {
		input = append(input, inputSeries{Series: s.selector, Values: s.values})
	}
	unit := map[string]any{
		"rule_files":          []string{e.rules},
		"evaluation_interval": interval.String(),
		"tests": []map[string]any{{
			"interval":        interval.String(),
			"input_series":    input,
			"alert_rule_test": tests,
		}},
	}
	raw, err := yaml.Marshal(unit)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(e.dir, strings.ReplaceAll(name, " ", "-")+".yaml")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(e.promtool, "test", "rules", file).CombinedOutput()
	if err != nil {
		t.Errorf("%s: the alerts are not as expected (%v); promtool test rules %s:\n%s", name, err, file, out)
		return
	}
	var fired []string
	for _, alert := range slices.Sorted(maps.Keys(want)) {
		if len(want[alert]) > 0 {
			fired = append(fired, alert)
		}
	}
	t.Logf("%s: promtool agrees over %d series: firing %v, silent: the other %d alerts checked", name, len(series), fired, len(want)-len(fired))
}

// promSeries is one input series for promtool: a selector and its values
// in promtool's expanding notation.
type promSeries struct{ selector, values string }

var sampleLine = regexp.MustCompile(`^(leaderhub_[a-zA-Z0-9_]+)(\{[^}]*\})? (\S+)$`)

// parseMetrics reads the leaderhub_* samples of a /metrics page: series
// (name and labels as written) to value, and each metric's type.
func parseMetrics(page []byte) (map[string]float64, map[string]string, error) {
	values, types := map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(page)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%q: %w", line, err)
		}
		values[m[1]+m[2]] = v
	}
	return values, types, sc.Err()
}

// metricType is the type of the family a series belongs to.
func metricType(series string, types map[string]string) string {
	name, _, _ := strings.Cut(series, "{")
	if t, ok := types[name]; ok {
		return t
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if t, ok := types[strings.TrimSuffix(name, suffix)]; ok && strings.HasSuffix(name, suffix) {
			return t
		}
	}
	return "gauge"
}

// withJob adds job="leaderhub" to a series' labels.
func withJob(series string) string {
	name, labels, ok := strings.Cut(series, "{")
	if !ok {
		return name + `{job="leaderhub"}`
	}
	return name + `{job="leaderhub",` + labels
}

// extrapolate turns two scrapes into promtool input series of steps points
// interval apart; test time 0 is the second scrape.
func extrapolate(before, after scrapeAt, steps int, interval time.Duration) ([]promSeries, error) {
	up := "1"
	if after.page == nil {
		up = "0"
	}
	out := []promSeries{{selector: `up{job="leaderhub"}`, values: fmt.Sprintf("%s+0x%d", up, steps)}}
	if after.page == nil {
		return out, nil
	}
	old, _, err := parseMetrics(before.page)
	if err != nil {
		return nil, err
	}
	now, types, err := parseMetrics(after.page)
	if err != nil {
		return nil, err
	}
	elapsed := after.at.Sub(before.at).Seconds()
	if elapsed <= 0 {
		return nil, fmt.Errorf("the scrapes are %v apart", after.at.Sub(before.at))
	}
	names := make([]string, 0, len(now))
	for s := range now {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		v := now[s]
		var start, step float64
		switch {
		case strings.HasSuffix(strings.SplitN(s, "{", 2)[0], "_timestamp_seconds"):
			// Its age at the second scrape; it stays that fresh if it
			// advanced between the scrapes, and ages otherwise.
			start = -(float64(after.at.UnixNano())/1e9 - v)
			if v > old[s] {
				step = interval.Seconds()
			}
		case metricType(s, types) == "counter" || metricType(s, types) == "histogram":
			start, step = v, (v-old[s])/elapsed*interval.Seconds()
		default:
			start = v
		}
		out = append(out, promSeries{selector: withJob(s), values: fmt.Sprintf("%s+%sx%d",
			strconv.FormatFloat(start, 'f', -1, 64), strconv.FormatFloat(step, 'f', -1, 64), steps)})
	}
	return out, nil
}

// TestAlerts: the chart's alerts on a running leaderhub. None fires with no
// NodePools at all, nor with healthy pools (one with election off and no
// leaders among them); each fires on its fault.
func TestAlerts(t *testing.T) {
	ctx := testContext(t, 6*time.Minute)
	eval := newAlertEvaluator(t)
	cp := startOwnControlPlane(t, ctx, framework.Options{})
	if err := cp.InstallCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	const ns, resync = "leaderhub-alerts", 2 * time.Second
	kube, err := cp.KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lh, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-alerts", User: "controller-" + ns, Groups: []string{"system:masters"},
		Args: []string{"--namespace=" + ns, "--leader-elect=false", "--materialize=endpoints,configmap", "--watch-buffer=4",
			"--controller-resync-period=" + resync.String(), "--election-deadline=3s"}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, lh.Process, 10*time.Second)
	pools, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	env := &clusterEnv{cp: cp, kube: kube, pools: openyurtclient.NewForConfigOrDie(pools)}
	scrapeNow := func() scrapeAt { return scrapeAt{page: []byte(scrapeFrom(t, cp, lh)), at: time.Now()} }
	metric := func(series string) float64 { return seriesValue(t, scrapeFrom(t, cp, lh), series) }
	waitMetric := func(series, what string, cond func(float64) bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			return cond(metric(series)), nil
		}); err != nil {
			t.Fatalf("%s never %s (%v)", series, what, metric(series))
		}
	}
	// resyncs waits for two full resyncs, so that a "healthy" case has seen
	// the controller at work.
	resyncs := func() {
		t.Helper()
		waitResyncsOn(t, cp, lh, 2)
	}
	silence := firing{}
	for _, name := range eval.names {
		silence[name] = nil
	}
	severity := func(s string, extra ...string) []map[string]string {
		l := map[string]string{"severity": s}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return []map[string]string{l}
	}

	// No NodePools at all.
	before := scrapeNow()
	resyncs()
	eval.check(t, "no NodePools", before, scrapeNow(), silence)

	// Healthy pools: election off with no leaders, and election on with a
	// Ready leader.
	env.createNode(t, "alert-n1", "alert-on", "10.60.0.1", nil)
	// Two more Nodes keep alert-on reachable when its leader goes NotReady
	// (a pool with most Nodes NotReady is cut off, not in an election).
	env.createNode(t, "alert-n3", "alert-on", "10.60.0.3", nil)
	env.createNode(t, "alert-n4", "alert-on", "10.60.0.4", nil)
	env.createNode(t, "alert-n2", "alert-lonely", "10.60.1.1", nil)
	if _, err := env.pools.AppsV1beta2().NodePools().Create(ctx, fixtures.NodePool("alert-off", fixtures.NoUID(), fixtures.Edge()),
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.createElectionPool(t, "alert-on", appsv1beta2.ElectionStrategyRandom, 1, nil)
	env.setLeaders(t, "alert-on", leaders("alert-n1=10.60.0.1"))
	waitMetric(`leaderhub_election_pools{state="ready"}`, "counted the pool with its leader", func(v float64) bool { return v == 1 })
	waitMetric("leaderhub_controller_managed_pools", "counted both pools", func(v float64) bool { return v == 2 })
	before = scrapeNow()
	resyncs()
	eval.check(t, "healthy pools", before, scrapeNow(), silence)

	// A pool with election on, a Node that could lead, and no leader: its
	// election fails too.
	before = scrapeNow()
	failed := metric(`leaderhub_elections_total{result="failed"}`)
	env.createElectionPool(t, "alert-lonely", appsv1beta2.ElectionStrategyRandom, 1, nil)
	waitMetric("leaderhub_election_leaderless_electable_pools", "counted the leaderless pool", func(v float64) bool { return v == 1 })
	waitMetric("leaderhub_controller_pools_without_leaders", "counted the leaderless pool", func(v float64) bool { return v == 1 })
	waitMetric(`leaderhub_elections_total{result="failed"}`, "counted the election nobody ended", func(v float64) bool { return v > failed })
	eval.check(t, "a leaderless pool", before, scrapeNow(), firing{"LeaderHubPoolsWithoutLeaders": severity("info"),
		"LeaderHubPoolLeaderless": severity("warning"), "LeaderHubElectionSuccessRatioLow": severity("warning")})
	env.setLeaders(t, "alert-lonely", leaders("alert-n2=10.60.1.1"))
	waitMetric("leaderhub_controller_pools_without_leaders", "cleared", func(v float64) bool { return v == 0 })

	// A leader's Node goes NotReady and nobody elects another.
	before = scrapeNow()
	failed = metric(`leaderhub_elections_total{result="failed"}`)
	env.setReady(t, "alert-n1", false)
	waitMetric("leaderhub_stale_leaders", "counted the NotReady leader", func(v float64) bool { return v == 1 })
	waitMetric(`leaderhub_elections_total{result="failed"}`, "counted the election nobody ended", func(v float64) bool { return v > failed })
	eval.check(t, "a NotReady leader not replaced", before, scrapeNow(), firing{
		"LeaderHubStaleLeaders": severity("warning"), "LeaderHubElectionSuccessRatioLow": severity("warning")})
	env.setReady(t, "alert-n1", true)
	waitMetric("leaderhub_stale_leaders", "cleared", func(v float64) bool { return v == 0 })

	// A pool cut off from the cloud: its only Node NotReady. Its leader is
	// kept, not stale, and no election fails.
	before = scrapeNow()
	failed = metric(`leaderhub_elections_total{result="failed"}`)
	env.setReady(t, "alert-n2", false)
	waitMetric(`leaderhub_election_pools{state="unreachable"}`, "counted the pool cut off", func(v float64) bool { return v == 1 })
	eval.check(t, "a pool cut off", before, scrapeNow(), firing{"LeaderHubPoolsUnreachable": severity("info")})
	if got := metric(`leaderhub_elections_total{result="failed"}`); got != failed {
		t.Errorf("a pool cut off counted %v failed elections", got-failed)
	}
	env.setReady(t, "alert-n2", true)
	waitMetric(`leaderhub_election_pools{state="unreachable"}`, "cleared", func(v float64) bool { return v == 0 })

	// A leader entry that cannot be published.
	before = scrapeNow()
	createPoolIn(t, env, "alert-bad", leaders("ok=10.60.2.1", "bad=not-an-ip"))
	waitMetric("leaderhub_controller_invalid_leader_addresses", "counted the bad entry", func(v float64) bool { return v == 1 })
	eval.check(t, "an invalid leader address", before, scrapeNow(), firing{"LeaderHubInvalidLeaderAddresses": severity("warning")})

	// A foreign object with a pool's name.
	before = scrapeNow()
	if _, err := kube.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "leader-hub-alert-foreign"}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createPoolIn(t, env, "alert-foreign", leaders("f=10.60.3.1"))
	waitMetric(`leaderhub_controller_conflicts_total{form="endpoints"}`, "counted the conflict", func(v float64) bool { return v >= 1 })
	eval.check(t, "a foreign object", before, scrapeNow(), firing{"LeaderHubConflicts": severity("info", "form", "endpoints", "job", "leaderhub")})

	// A pool whose name the ConfigMap form cannot hold.
	before = scrapeNow()
	long := "alert-" + strings.Repeat("x", 49)
	createPoolIn(t, env, long, leaders("l=10.60.4.1"))
	waitMetric(`leaderhub_controller_rejections_total{form="configmap",reason="PoolNameTooLongForConfigMap"}`, "counted the rejection",
		func(v float64) bool { return v >= 1 })
	eval.check(t, "a rejected object", before, scrapeNow(), firing{"LeaderHubObjectsRejected": severity("info",
		"form", "configmap", "reason", "PoolNameTooLongForConfigMap", "job", "leaderhub")})

	// View watchers that stop reading, many at once: the two scrapes that
	// bracket the drops tell their rate.
	before, after := dropStalledWatchers(t, cp, lh, env, ns, 40)
	eval.check(t, "watchers dropped", before, after, firing{"LeaderHubViewDroppingWatchers": severity("info", "job", "leaderhub")})

	// Another holder keeps the controller lease: no replica runs the
	// controllers. A second leaderhub, with the lease on.
	if _, err := kube.CoordinationV1().Leases(ns).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "leaderhub-controller"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a-stuck-replica"), LeaseDurationSeconds: ptr.To(int32(3600)),
			AcquireTime: ptr.To(metav1.NowMicro()), RenewTime: ptr.To(metav1.NowMicro())}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	leased, err := cp.StartLeaderHub(ctx, framework.LeaderHubOptions{Name: "leaderhub-alerts-leased", User: "controller-" + ns,
		Groups: []string{"system:masters"}, Args: []string{"--namespace=" + ns, "--leader-elect-retry-period=500ms"}})
	if err != nil {
		t.Fatal(err)
	}
	framework.StopOnCleanup(t, leased.Process, 10*time.Second)
	leasedBefore := scrapeAt{page: []byte(scrapeFrom(t, cp, leased)), at: time.Now()}
	time.Sleep(time.Second) // two scrapes apart: it stays without the lease however long we look
	leasedAfter := scrapeAt{page: []byte(scrapeFrom(t, cp, leased)), at: time.Now()}
	if v := seriesValue(t, string(leasedAfter.page), "leaderhub_controller_leader"); v != 0 {
		t.Fatalf("leaderhub_controller_leader = %v while another holder keeps the lease", v)
	}
	eval.check(t, "no controller leader", leasedBefore, leasedAfter, firing{"LeaderHubNoControllerLeader": severity("warning")})

	// kube-apiserver refuses every write of the controller, and its objects
	// are gone: every sync fails, and none succeeds. The scrapes bracket a
	// stretch of that.
	errorsSeries := `leaderhub_controller_syncs_total{result="error"}`
	errorsBefore := metric(errorsSeries)
	refuseWrites(t, ctx, cp, "controller-"+ns, ns)
	waitMetric(errorsSeries, "counted failed syncs", func(v float64) bool { return v > errorsBefore })
	before = scrapeNow()
	errorsBefore = metric(errorsSeries)
	resyncs()
	waitMetric(errorsSeries, "counted more failed syncs", func(v float64) bool { return v > errorsBefore })
	eval.check(t, "syncs failing", before, scrapeNow(), firing{
		"LeaderHubSyncErrors": severity("warning"), "LeaderHubSyncStale": severity("warning")})

	// The replica is down.
	before = scrapeNow()
	if err := lh.Process.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	eval.check(t, "leaderhub down", before, scrapeAt{at: time.Now()}, firing{"LeaderHubDown": severity("critical")})
}

// createPoolIn creates a NodePool with election on and its leaders in the
// environment's control plane.
func createPoolIn(t *testing.T, e *clusterEnv, name string, ls []appsv1beta2.Leader) {
	t.Helper()
	e.createElectionPool(t, name, appsv1beta2.ElectionStrategyRandom, int32(len(ls)), nil)
	e.setLeaders(t, name, ls)
}

// dropStalledWatchers opens n watches of ns on lh that are never read, and
// changes a pool with 1,500 leaders until lh has dropped them all, scraping
// every few changes. It returns the last scrape before the first drop and
// the first after the last, and closes the connections.
func dropStalledWatchers(t *testing.T, cp *framework.ControlPlane, lh *framework.LeaderHub, e *clusterEnv, ns string, n int) (before, after scrapeAt) {
	t.Helper()
	big := make([]appsv1beta2.Leader, 1500)
	for i := range big {
		big[i] = appsv1beta2.Leader{NodeName: fmt.Sprintf("node-%04d", i), Address: fmt.Sprintf("10.61.%d.%d", i/250, i%250+1)}
	}
	createPoolIn(t, e, "alert-big", big)
	np, err := e.pools.AppsV1beta2().NodePools().Get(testContext(t, 10*time.Second), "alert-big", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lh.RESTConfigFor(cp, "stalled-watcher", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	var closers []func()
	for range n {
		closers = append(closers, openStalledWatch(t, cfg, lh, ns, np.ResourceVersion))
	}
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	const dropped = "leaderhub_view_dropped_watchers_total"
	before = scrapeAt{page: []byte(scrapeFrom(t, cp, lh)), at: time.Now()}
	base := seriesValue(t, string(before.page), dropped)
	for i := 0; i < 600; i++ {
		set := big
		if i%2 == 1 {
			set = big[1:]
		}
		e.setLeaders(t, "alert-big", set)
		if i%3 != 2 {
			continue
		}
		now := scrapeAt{page: []byte(scrapeFrom(t, cp, lh)), at: time.Now()}
		switch v := seriesValue(t, string(now.page), dropped); {
		case v == base:
			before = now
		case v >= base+float64(n):
			return before, now
		}
	}
	t.Fatalf("%d stalled watchers were not all dropped after 600 changes of a pool with 1,500 leaders", n)
	return before, after
}

// refuseWrites has kube-apiserver refuse, with 403, every create, update
// and delete by user in ns (a ValidatingAdmissionPolicy and its binding),
// and deletes the Endpoints and ConfigMaps there, so that every pool needs
// a write the user cannot make.
func refuseWrites(t *testing.T, ctx context.Context, cp *framework.ControlPlane, user, ns string) {
	t.Helper()
	policy := fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: alerts-refuse-writes}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE, DELETE]
      resources: [endpoints, configmaps]
  matchConditions:
  - name: the-controller
    expression: request.userInfo.username == %q
  validations:
  - expression: "false"
    reason: Forbidden
    message: the alert test refuses the controller's writes
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: alerts-refuse-writes}
spec:
  policyName: alerts-refuse-writes
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: %s}
`, user, ns)
	if out, err := cp.KubectlInput(ctx, []byte(policy), "apply", "-f", "-"); err != nil {
		t.Fatalf("applying the policy: %v\n%s", err, out)
	}
	kube, err := cp.KubeClient()
	if err != nil {
		t.Fatal(err)
	}
	// The policy takes effect once kube-apiserver has loaded it: wait until
	// a write as the user is refused.
	cfg, err := cp.RESTConfigFor(user, "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	asUser := kubernetes.NewForConfigOrDie(cfg)
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := asUser.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return apierrors.IsForbidden(err), nil
	})
	if err != nil {
		t.Fatal("kube-apiserver never refused the controller's writes")
	}
	if err := kube.CoreV1().Endpoints(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kube.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
