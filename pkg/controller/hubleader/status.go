package hubleader

import (
	"cmp"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/pkg/election"
)

// record emits the Events of a written election.
func (c *Controller) record(np *appsv1beta2.NodePool, p *election.Pool, out *Outcome, prev *appsv1beta2.NodePoolCondition) {
	ref := &appsv1beta2.NodePool{ObjectMeta: metav1.ObjectMeta{Name: np.Name, UID: np.UID, ResourceVersion: np.ResourceVersion}}
	switch {
	case len(out.Added) > 0 && len(out.Removed) > 0:
		c.recorder.Eventf(ref, corev1.EventTypeNormal, EventLeaderReplaced, "Replaced leaders %s with %s",
			strings.Join(out.Removed, ","), strings.Join(out.Added, ","))
	case len(out.Added) > 0:
		c.recorder.Eventf(ref, corev1.EventTypeNormal, EventLeaderElected, "Elected leaders %s (%s strategy); leaders now %s",
			strings.Join(out.Added, ","), p.Strategy, leadersString(out.Leaders))
	case len(out.Removed) > 0:
		c.recorder.Eventf(ref, corev1.EventTypeNormal, EventLeaderReplaced, "Removed leaders %s; leaders now %s",
			strings.Join(out.Removed, ","), cmp.Or(leadersString(out.Leaders), "none"))
	}
	if out.Condition.Reason == ReasonNoCandidates && (prev == nil || prev.Reason != ReasonNoCandidates) {
		c.recorder.Event(ref, corev1.EventTypeWarning, EventNoCandidates, out.Condition.Message)
	}
	// An outage's start and end, once each: the condition is in the API, so
	// neither a restart nor another replica repeats them.
	wasUnreachable := prev != nil && prev.Reason == ReasonPoolUnreachable
	switch isUnreachable := out.Condition.Reason == ReasonPoolUnreachable; {
	case isUnreachable && !wasUnreachable:
		c.recorder.Eventf(ref, corev1.EventTypeWarning, EventPoolUnreachable, "%s; leaders %s",
			out.Condition.Message, cmp.Or(leadersString(out.Leaders), "none"))
		klog.InfoS("Pool unreachable: keeping its leaders", "nodePool", klog.KObj(np), "notReady", out.Outage.NotReady,
			"nodes", out.Outage.Nodes, "leaders", leadersString(out.Leaders))
	case !isUnreachable && wasUnreachable:
		c.recorder.Eventf(ref, corev1.EventTypeNormal, EventPoolReachable, "The pool is reachable again; leaders %s (%s)",
			cmp.Or(leadersString(out.Leaders), "none"), out.Condition.Message)
		klog.InfoS("Pool reachable again", "nodePool", klog.KObj(np), "leaders", leadersString(out.Leaders),
			"reason", out.Condition.Reason)
	}
	klog.V(2).InfoS("Wrote the pool's leaders", "nodePool", klog.KObj(np), "leaders", leadersString(out.Leaders),
		"added", out.Added, "removed", out.Removed, "reason", out.Condition.Reason)
}

// statusPatch is a JSON merge patch of the NodePool's status with its
// resourceVersion as precondition: it replaces leaderEndpoints, leaderNum
// and the condition list (with LeaderReady set), and leaderLastElectedTime
// when the leaders changed. Every other status field is left alone.
func statusPatch(p *election.Pool, out *Outcome, leadersChanged bool, now metav1.Time) ([]byte, error) {
	conds := make([]appsv1beta2.NodePoolCondition, 0, len(p.Conditions)+1)
	set := out.Condition
	set.LastTransitionTime = now
	found := false
	for _, c := range p.Conditions {
		if c.Type == appsv1beta2.LeaderStatus {
			if c.Status == set.Status {
				set.LastTransitionTime = c.LastTransitionTime
			}
			c, found = set, true
		}
		conds = append(conds, c)
	}
	if !found {
		conds = append(conds, set)
	}
	status := map[string]interface{}{
		"leaderEndpoints": out.Leaders,
		"leaderNum":       len(out.Leaders),
		"conditions":      conds,
	}
	if len(out.Leaders) == 0 {
		status["leaderEndpoints"] = nil
	}
	if leadersChanged {
		status["leaderLastElectedTime"] = now
	}
	return json.Marshal(map[string]interface{}{
		"metadata": map[string]interface{}{"resourceVersion": p.ResourceVersion},
		"status":   status,
	})
}

func sameCondition(a, b *appsv1beta2.NodePoolCondition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message
}

func leadersString(leaders []appsv1beta2.Leader) string {
	parts := make([]string, 0, len(leaders))
	for _, l := range leaders {
		parts = append(parts, l.NodeName+"/"+l.Address)
	}
	return strings.Join(parts, ",")
}
