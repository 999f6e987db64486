package election

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// TestPackedPool: a Pool packed and unpacked is the Pool, every condition's
// text included (the elector writes them back), whatever the strings hold.
func TestPackedPool(t *testing.T) {
	at := time.Unix(1_700_000_000, 123_000_000)
	tests := []struct {
		name string
		pool Pool
	}{
		{"empty", Pool{Name: "p", Strategy: appsv1beta2.ElectionStrategyRandom, Wanted: 1}},
		{"everything", Pool{Name: "p", UID: "0d1c0fd0-6c4a-4f2e-9a3e-5f7f1c2d3e4f", ResourceVersion: "123456", Enabled: true,
			Strategy: appsv1beta2.ElectionStrategyMark, Wanted: 3, Selector: map[string]string{"lead": "yes", "zone": "z1"},
			Leaders:     []appsv1beta2.Leader{{NodeName: "n2", Address: "10.0.0.2"}, {NodeName: "n1", Address: "fd00::1"}},
			LastElected: metav1.NewTime(at), SpecChangedAt: at.Add(-time.Hour),
			Conditions: []appsv1beta2.NodePoolCondition{
				{Type: appsv1beta2.LeaderStatus, Status: corev1.ConditionTrue, Reason: "LeadersElected", Message: "2 of 3", LastTransitionTime: metav1.NewTime(at)},
				{Type: "Other", Status: corev1.ConditionUnknown, Message: "written by someone else"},
			}}},
		{"uid a UUID in upper case, kept as text", Pool{Name: "p", UID: "0D1C0FD0-6C4A-4F2E-9A3E-5F7F1C2D3E4F", Strategy: appsv1beta2.ElectionStrategyRandom}},
		{"uid shaped as a UUID but not hex", Pool{Name: "p", UID: "0d1c0fd0-6c4a-4f2e-9a3e-5f7f1c2d3e4g", Strategy: appsv1beta2.ElectionStrategyRandom}},
		{"strings with separators and a long message", Pool{Name: "p", Strategy: "custom\x00", Wanted: 200,
			Selector: map[string]string{"": "\x00\x01", "k\x00": ""},
			Leaders:  []appsv1beta2.Leader{{NodeName: "", Address: ""}},
			Conditions: []appsv1beta2.NodePoolCondition{{Type: "\xff\x80", Message: string(make([]byte, 300)),
				LastTransitionTime: metav1.NewTime(time.Unix(-5, 0))}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packed := packPool(&tt.pool)
			got := packed.unpack(tt.pool.Name)
			if !got.SpecChangedAt.Equal(tt.pool.SpecChangedAt) || !got.LastElected.Equal(&tt.pool.LastElected) {
				t.Errorf("times %v, %v; want %v, %v", got.SpecChangedAt, got.LastElected, tt.pool.SpecChangedAt, tt.pool.LastElected)
			}
			for i := range got.Conditions {
				if !got.Conditions[i].LastTransitionTime.Equal(&tt.pool.Conditions[i].LastTransitionTime) {
					t.Errorf("condition %d's time %v", i, got.Conditions[i].LastTransitionTime)
				}
			}
			if !reflect.DeepEqual(inUTC(got), inUTC(&tt.pool)) {
				t.Errorf("unpacked\n%#v\nwant\n%#v", inUTC(got), inUTC(&tt.pool))
			}
			again := packPool(got)
			if !again.same(&packed) || again.leadersText() != packed.leadersText() {
				t.Error("packing the unpacked Pool again differs")
			}
		})
	}
}

// inUTC is a Pool with its times in UTC, for reflect.DeepEqual.
func inUTC(p *Pool) Pool {
	out := *p
	out.SpecChangedAt = out.SpecChangedAt.UTC()
	out.LastElected = metav1.NewTime(out.LastElected.UTC())
	out.Conditions = nil
	for _, c := range p.Conditions {
		c.LastTransitionTime = metav1.NewTime(c.LastTransitionTime.UTC())
		out.Conditions = append(out.Conditions, c)
	}
	return out
}

// TestPackedPoolComparisons: same and leadersText tell apart what the
// tracker needs told apart.
func TestPackedPoolComparisons(t *testing.T) {
	base := Pool{Name: "p", UID: "u", ResourceVersion: "1", Enabled: true, Strategy: appsv1beta2.ElectionStrategyRandom,
		Wanted: 1, Leaders: []appsv1beta2.Leader{{NodeName: "n1", Address: "10.0.0.1"}}}
	tests := []struct {
		name                     string
		change                   func(p *Pool)
		wantSame, wantSameLeader bool
	}{
		{"resourceVersion", func(p *Pool) { p.ResourceVersion = "2" }, true, true},
		{"leader address", func(p *Pool) { p.Leaders[0].Address = "10.0.0.9" }, false, false},
		{"leaders reordered", func(p *Pool) {
			p.Leaders = append(p.Leaders, appsv1beta2.Leader{NodeName: "n0"})
		}, false, false},
		{"selector", func(p *Pool) { p.Selector = map[string]string{"a": "b"} }, false, true},
		{"condition", func(p *Pool) {
			p.Conditions = []appsv1beta2.NodePoolCondition{{Type: appsv1beta2.LeaderStatus, Status: corev1.ConditionTrue}}
		}, false, true},
		{"wanted", func(p *Pool) { p.Wanted = 2 }, false, true},
		{"uid", func(p *Pool) { p.UID = "v" }, false, true},
		{"election off", func(p *Pool) { p.Enabled = false }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base
			q.Leaders = append([]appsv1beta2.Leader(nil), base.Leaders...)
			tt.change(&q)
			a, b := packPool(&base), packPool(&q)
			if a.same(&b) != tt.wantSame || (a.leadersText() == b.leadersText()) != tt.wantSameLeader {
				t.Errorf("same %t, same leaders %t; want %t, %t", a.same(&b), a.leadersText() == b.leadersText(), tt.wantSame, tt.wantSameLeader)
			}
		})
	}
}

// TestPackedUID: a uid written as kube-apiserver writes UUIDs is packed in
// 16 bytes and unpacked as written; any other uid is kept as text; two
// packed pools have the same uid exactly when the uids are equal strings.
func TestPackedUID(t *testing.T) {
	const canonical = "0d1c0fd0-6c4a-4f2e-9a3e-5f7f1c2d3e4f"
	uids := []types.UID{canonical, "0d1c0fd0-6c4a-4f2e-9a3e-5f7f1c2d3e40", "0D1C0FD0-6C4A-4F2E-9A3E-5F7F1C2D3E4F",
		"0d1c0fd0-6c4a-4f2e-9a3e-5f7f1c2d3e4g", "0d1c0fd0x6c4a-4f2e-9a3e-5f7f1c2d3e4f", "uid-p", ""}
	packed := make([]packedPool, len(uids))
	for i, uid := range uids {
		packed[i] = packPool(&Pool{Name: "p", UID: uid, Strategy: appsv1beta2.ElectionStrategyRandom})
		if got := packed[i].uid(); got != uid {
			t.Errorf("uid %q unpacked as %q", uid, got)
		}
		if want := i < 2; packed[i].uuid != want {
			t.Errorf("uid %q packed in 16 bytes: %t, want %t", uid, packed[i].uuid, want)
		}
	}
	for i := range uids {
		for j := range uids {
			if got := packed[i].sameUID(&packed[j]); got != (i == j) {
				t.Errorf("sameUID(%q, %q) = %t", uids[i], uids[j], got)
			}
		}
	}
	if saved := len(packed[2].text) - len(packed[0].text); saved != 21 {
		t.Errorf("a UUID packed in %d bytes less than as text, want 21", saved)
	}
}
