package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/controller/hubleader"
	"github.com/leaderhub/leaderhub/test/framework"
)

// outageResult is what one pool outage cost.
type outageResult struct {
	cutOff, recovered   time.Duration // until every pool showed it
	changedPools        int           // pools whose leaders differ after
	leaderChanges       float64       // leaderhub_leader_changes_total
	writes              float64       // elector status writes
	elections           float64       // elections counted, any result
	cpuElector, cpuView float64       // core-seconds
}

// outage cuts pools off: their Nodes go NotReady on a schedule (offsets
// within the spread), then come back on the same schedule, the leaders
// last, as they do when a site's link returns. It waits for every pool's
// LeaderReady to say so at each end.
func (e *env) outage(ctx context.Context, pools []string, nodes []*corev1.Node,
	offset func(pool, node int) time.Duration, elector *framework.LeaderHub, electorCfg *rest.Config) (outageResult, error) {
	var r outageResult
	before := map[string][]string{}
	var members [][]int // per pool, its Nodes' indexes in nodes, the leaders last
	inPool := map[string][]int{}
	for k, n := range nodes {
		inPool[n.Labels[appsv1beta2.LabelNodePool]] = append(inPool[n.Labels[appsv1beta2.LabelNodePool]], k)
	}
	for _, name := range pools {
		np, err := e.pools.AppsV1beta2().NodePools().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return r, err
		}
		before[name] = leaderNames(np)
		mine := slices.Clone(inPool[name])
		sort.SliceStable(mine, func(i, j int) bool {
			return !slices.Contains(before[name], nodes[mine[i]].Name) && slices.Contains(before[name], nodes[mine[j]].Name)
		})
		members = append(members, mine)
	}
	scrape := func() (elector, view string, err error) {
		if elector, err = scrapeServer(ctx, electorCfg); err != nil {
			return "", "", err
		}
		view, err = scrapeServer(ctx, e.direct)
		return elector, view, err
	}
	electorBefore, viewBefore, err := scrape()
	if err != nil {
		return r, err
	}
	cpuElector0, _ := cpuSeconds(elector.Process.PID)
	cpuView0, _ := cpuSeconds(e.lh.Process.PID)

	// set writes the Ready condition of every Node of the pools on the
	// schedule; recovering, a pool's leaders come after all its others.
	set := func(ready bool) error {
		type change struct {
			k  int
			at time.Duration
		}
		var changes []change
		for p, mine := range members {
			for i, k := range mine {
				at := offset(p, i)
				if ready && slices.Contains(before[pools[p]], nodes[k].Name) {
					at += 5 * time.Second // the leaders last
				}
				changes = append(changes, change{k, at})
			}
		}
		slices.SortFunc(changes, func(a, b change) int { return int(a.at - b.at) })
		start := time.Now()
		return parallel(len(changes), 32, func(i int) error {
			c := changes[i]
			time.Sleep(time.Until(start.Add(c.at)))
			n := nodes[c.k].DeepCopy()
			now := metav1.Now()
			cond := &n.Status.Conditions[0]
			cond.Status, cond.LastHeartbeatTime, cond.LastTransitionTime = corev1.ConditionFalse, now, now
			if ready {
				cond.Status = corev1.ConditionTrue
			}
			updated, err := e.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
			if err == nil {
				nodes[c.k] = updated
			}
			return err
		})
	}
	// phase sets the Nodes' Ready condition, then waits until every pool's
	// LeaderReady has reason, and returns how long that took.
	phase := func(ready bool, reason string) (time.Duration, error) {
		start := time.Now()
		if err := set(ready); err != nil {
			return 0, fmt.Errorf("setting Ready=%t: %w", ready, err)
		}
		err := waitFor(ctx, 3*time.Minute, "every pool's LeaderReady to be "+reason, func(ctx context.Context) (bool, error) {
			list, err := e.pools.AppsV1beta2().NodePools().List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			done := 0
			for i := range list.Items {
				np := &list.Items[i]
				if !slices.Contains(pools, np.Name) {
					continue
				}
				for j := range np.Status.Conditions {
					if c := &np.Status.Conditions[j]; c.Type == appsv1beta2.LeaderStatus && c.Reason == reason {
						done++
					}
				}
			}
			return done == len(pools), nil
		})
		return time.Since(start), err
	}
	if r.cutOff, err = phase(false, hubleader.ReasonPoolUnreachable); err != nil {
		return r, fmt.Errorf("cutting the pools off: %w", err)
	}
	if r.recovered, err = phase(true, hubleader.ReasonLeadersElected); err != nil {
		return r, fmt.Errorf("bringing the pools back: %w", err)
	}
	time.Sleep(2 * time.Second) // the last writes reach the view's tracker
	cpuElector1, _ := cpuSeconds(elector.Process.PID)
	cpuView1, _ := cpuSeconds(e.lh.Process.PID)
	r.cpuElector, r.cpuView = cpuElector1-cpuElector0, cpuView1-cpuView0
	electorAfter, viewAfter, err := scrape()
	if err != nil {
		return r, err
	}
	r.writes = metricSum(electorAfter, "leaderhub_hubleader_status_writes_total", "") -
		metricSum(electorBefore, "leaderhub_hubleader_status_writes_total", "")
	r.leaderChanges = metricSum(viewAfter, "leaderhub_leader_changes_total", "") - metricSum(viewBefore, "leaderhub_leader_changes_total", "")
	r.elections = metricSum(viewAfter, "leaderhub_elections_total", "") - metricSum(viewBefore, "leaderhub_elections_total", "")
	for _, name := range pools {
		np, err := e.pools.AppsV1beta2().NodePools().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return r, err
		}
		if !slices.Equal(leaderNames(np), before[name]) {
			r.changedPools++
		}
	}
	return r, nil
}

func leaderNames(np *appsv1beta2.NodePool) []string {
	out := make([]string, 0, len(np.Status.LeaderEndpoints))
	for _, l := range np.Status.LeaderEndpoints {
		out = append(out, l.NodeName)
	}
	return out
}

// outageRows runs the two outages of scenario 9 on the last pools (the
// first ones had their leaders failed over) and reports them.
func (e *env) outageRows(ctx context.Context, prefix string, nodes []*corev1.Node, elector *framework.LeaderHub,
	electorCfg *rest.Config) ([][]string, error) {
	c := e.cfg
	// Three sets of pools from the last (the first ones had their leaders
	// failed over).
	count := outagePools(c)
	set := func(k int) []string {
		var out []string
		for p := c.electionPools - (k+1)*count; p < c.electionPools-k*count; p++ {
			out = append(out, poolName(prefix, p))
		}
		return out
	}
	together, spread, spreadGraced := set(0), set(1), set(2)
	const within = 5 * time.Second
	// Together: each pool's Nodes at one moment (the node lifecycle
	// controller marks the Nodes of one monitor pass in parallel), the pools
	// within 5 s.
	a, err := e.outage(ctx, together, nodes, func(pool, _ int) time.Duration {
		return within * time.Duration(pool) / time.Duration(count)
	}, elector, electorCfg)
	if err != nil {
		return nil, fmt.Errorf("outage, each pool at once: %w", err)
	}
	if c.large {
		return outageReport(fmt.Sprintf("outage of %d pools, each pool's Nodes NotReady at once, the pools within 5 s", count), a, count), nil
	}
	// Spread: every Node at its own moment within 5 s, as Nodes whose
	// leases expire over a few monitor passes.
	spreadOffsets := func() func(pool, node int) time.Duration {
		rng := rand.New(rand.NewPCG(1, 2))
		offsets := map[[2]int]time.Duration{}
		return func(pool, node int) time.Duration {
			key := [2]int{pool, node}
			if _, ok := offsets[key]; !ok {
				offsets[key] = time.Duration(rng.Int64N(int64(within)))
			}
			return offsets[key]
		}
	}
	b, err := e.outage(ctx, spread, nodes, spreadOffsets(), elector, electorCfg)
	if err != nil {
		return nil, fmt.Errorf("outage, Nodes spread: %w", err)
	}
	// Spread again, with an elector that keeps a NotReady leader for 15 s
	// (it takes the lease over from the first one).
	if err := elector.Process.Stop(10 * time.Second); err != nil {
		return nil, err
	}
	graced, err := e.cp.StartLeaderHub(ctx, electorOptions("leaderhub-elector-graced", "--leader-grace-period=15s"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = graced.Process.Stop(10 * time.Second) }()
	gracedCfg, err := graced.RESTConfigFor(e.cp, "bench", "system:masters")
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, time.Minute, "the second elector to run", func(ctx context.Context) (bool, error) {
		page, err := scrapeServer(ctx, gracedCfg)
		return err == nil && metricSum(page, "leaderhub_hubleader_running", "") == 1, nil
	}); err != nil {
		return nil, err
	}
	g, err := e.outage(ctx, spreadGraced, nodes, spreadOffsets(), graced, gracedCfg)
	if err != nil {
		return nil, fmt.Errorf("outage, Nodes spread, --leader-grace-period=15s: %w", err)
	}
	rows := outageReport(fmt.Sprintf("outage of %d pools, each pool's Nodes NotReady at once, the pools within 5 s", count), a, count)
	rows = append(rows, outageReport(fmt.Sprintf("outage of %d other pools, every Node NotReady at its own moment within 5 s", count), b, count)...)
	rows = append(rows, outageReport(fmt.Sprintf("the same on %d other pools, the elector with `--leader-grace-period=15s`", count), g, count)...)
	return rows, nil
}

// outageReport is an outage's report rows.
func outageReport(what string, r outageResult, pools int) [][]string {
	return [][]string{
		{what + ": cut off → every pool shows PoolUnreachable; back → every pool LeadersElected",
			fmt.Sprintf("%s; %s", r.cutOff.Round(100*time.Millisecond), r.recovered.Round(100*time.Millisecond))},
		{"… pools whose leaders changed / leader set changes / elections counted",
			fmt.Sprintf("**%d** / %.0f / %.0f", r.changedPools, r.leaderChanges, r.elections)},
		{"… elector status writes per pool", fmt.Sprintf("%.1f", r.writes/float64(pools))},
		{"… CPU: elector / view server", fmt.Sprintf("%.2f / %.2f core-s", r.cpuElector, r.cpuView)},
	}
}
