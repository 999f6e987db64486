package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// fanout: time from a NodePool leader change until each watcher of that pool
// has it, for the view served directly, the view through kube-apiserver,
// and kube-apiserver serving the materialized Endpoints.
func (e *env) fanout(ctx context.Context) error {
	c := e.cfg
	const prefix = "fo"
	if err := e.publishPools(ctx, prefix, c.fanoutPools, 5*time.Minute); err != nil {
		return err
	}
	forms := []form{
		{"view, direct", func(p string) string { return leaderHubWatchURL(e.direct.Host, p, "") }, e.direct, ""},
		{"view, through kube-apiserver", func(p string) string { return leaderHubWatchURL(e.admin.Host, p, "") }, e.admin, ""},
		{"Endpoints, kube-apiserver", func(p string) string { return endpointsWatchURL(e.admin.Host, p, "") }, e.admin, ""},
	}
	var rows [][]string
	var p50s []time.Duration
	for f, fm := range forms {
		samples, perChange, err := e.fanoutForm(ctx, prefix, fm, f)
		if err != nil {
			return fmt.Errorf("%s: %w", fm.name, err)
		}
		p50s = append(p50s, percentile(samples, 0.5))
		rows = append(rows, []string{fm.name, fmt.Sprint(len(samples)), ms(percentile(samples, 0.5)), ms(percentile(samples, 0.99)),
			ms(percentile(perChange, 0.5)), ms(percentile(perChange, 0.99)), ""})
	}
	for i := range rows {
		rows[i][6] = ratio(float64(p50s[i]), float64(p50s[2]))
	}
	e.report.section("2. Fan-out latency",
		fmt.Sprintf("%d pools × %d watchers (%d watch streams per form, name-selected, shared HTTP/2 connections of 200 streams); "+
			"%d leader changes timed per form from the NodePool status write until each watcher of the pool has the event. "+
			"The Endpoints path includes the controller writing them.", c.fanoutPools, c.fanoutWatchers, c.fanoutPools*c.fanoutWatchers, c.fanoutChanges),
		[]string{"form", "deliveries", "p50 per watcher", "p99 per watcher", "p50 all of a pool", "p99 all of a pool", "p50 / Endpoints p50"}, rows,
		"Goal: view direct ≤ 1.0× kube-apiserver serving the Endpoints.")
	return nil
}

func (e *env) fanoutForm(ctx context.Context, prefix string, fm form, seed int) (samples, perChange []time.Duration, err error) {
	c := e.cfg
	tr, err := newTransports(fm.cfg, 200)
	if err != nil {
		return nil, nil, err
	}
	defer tr.close()
	var timer deliveryTimer
	var watchers []*streamWatch
	for p := 0; p < c.fanoutPools; p++ {
		for w := 0; w < c.fanoutWatchers; w++ {
			id := p*c.fanoutWatchers + w
			watchers = append(watchers, openWatch(ctx, tr.client(), fm.url(poolName(prefix, p)), func(typ string, obj []byte, at time.Time) {
				timer.seen(id, obj, at)
			}))
		}
	}
	defer stopAll(watchers)
	if failed, err := waitEstablished(watchers, 2*time.Minute); failed > 0 {
		return nil, nil, fmt.Errorf("%d watches failed: %w", failed, err)
	}
	time.Sleep(2 * time.Second) // initial events of legacy watches are in
	for i := 0; i < c.fanoutChanges; i++ {
		p := (i * 7) % c.fanoutPools
		ip := fmt.Sprintf("10.%d.%d.%d", 200+seed, i/250, i%250+1)
		timer.begin(func(obj []byte) bool { return bytes.Contains(obj, []byte(`"`+ip+`"`)) })
		if err := e.setLeaders(ctx, poolName(prefix, p), []appsv1beta2.Leader{{NodeName: "fanout-leader", Address: ip}}); err != nil {
			return nil, nil, err
		}
		got, worst, err := timer.wait(ctx, c.fanoutWatchers, "every watcher of the pool receiving the change")
		if err != nil {
			return nil, nil, err
		}
		samples, perChange = append(samples, got...), append(perChange, worst)
	}
	return samples, perChange, nil
}
