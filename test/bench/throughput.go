package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderhub/leaderhub/api/leaderhub/v1alpha1"
)

// throughput: GET and name-selected LIST of one pool's object, the view
// served directly against kube-apiserver serving the Endpoints.
func (e *env) throughput(ctx context.Context) error {
	c := e.cfg
	const prefix = "tp"
	if err := e.publishPools(ctx, prefix, 1, time.Minute); err != nil {
		return err
	}
	name := v1alpha1.ObjectName(poolName(prefix, 0))
	view := versionedFor(e.direct).LeaderhubV1alpha1().LeaderHubs(ns)
	eps := e.kube.CoreV1().Endpoints(ns)
	sel := metav1.ListOptions{FieldSelector: "metadata.name=" + name}
	measure := func(req func() error) (float64, error) {
		start := time.Now()
		err := parallel(c.throughputRequests, c.throughputConcurrency, func(int) error { return req() })
		return float64(c.throughputRequests) / time.Since(start).Seconds(), err
	}
	type pair struct {
		what       string
		view, kube func() error
	}
	var rows [][]string
	for _, p := range []pair{
		{"GET", func() error { _, err := view.Get(ctx, name, metav1.GetOptions{}); return err },
			func() error { _, err := eps.Get(ctx, name, metav1.GetOptions{}); return err }},
		{"LIST by name", func() error { _, err := view.List(ctx, sel); return err },
			func() error { _, err := eps.List(ctx, sel); return err }},
	} {
		v, err := measure(p.view)
		if err != nil {
			return err
		}
		k, err := measure(p.kube)
		if err != nil {
			return err
		}
		rows = append(rows, []string{p.what, fmt.Sprintf("%.0f req/s", v), fmt.Sprintf("%.0f req/s", k), ratio(v, k)})
	}
	e.report.section("5. GET/LIST throughput of one pool's object",
		fmt.Sprintf("%d requests per form, %d concurrent, same client (client-go, JSON, QPS limit off), served directly.", c.throughputRequests, c.throughputConcurrency),
		[]string{"request", "view (leaderhub)", "Endpoints (kube-apiserver)", "view / Endpoints"}, rows,
		"Goal: ≥ 1.0×.")
	return nil
}
