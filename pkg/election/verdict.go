package election

// State is how a pool with election on stands: ready (as many valid leaders
// as it wants), degraded (fewer, but some), leaderless, or unreachable (it
// lost its cloud link: disrupted, or keeping its leaders through the
// recovery grace period).
type State string

const (
	StateReady       State = "ready"
	StateDegraded    State = "degraded"
	StateLeaderless  State = "leaderless"
	StateUnreachable State = "unreachable"
)

// States are every State, in the order metrics list them.
var States = []State{StateReady, StateDegraded, StateLeaderless, StateUnreachable}

// Verdict is the judgement of one pool's published leaders.
type Verdict struct {
	// Enabled is spec.enableLeaderElection; the rest is zero without it.
	Enabled bool
	// Wanted is leaderReplicas (1 when unset).
	Wanted int
	// Published counts the distinct published leaders, Valid those that
	// are valid, Held those that are not but keep their slot through the
	// pool's outage (Outage.Holds), Stale the others.
	Published, Valid, Held, Stale int
	// Eligible counts the Nodes that could lead the pool: its candidates
	// and its valid leaders (with the mark strategy, a valid leader the
	// selector stopped matching is not a candidate, but it still leads).
	Eligible int
	// Unreachable: the pool is disrupted, or holds leaders through its
	// recovery grace period. It is in no election meanwhile.
	Unreachable bool
}

// State is the pool's State; "" with election off.
func (v Verdict) State() State {
	switch {
	case !v.Enabled:
		return ""
	case v.Unreachable:
		return StateUnreachable
	case v.Valid == 0:
		return StateLeaderless
	case v.Valid < v.Wanted:
		return StateDegraded
	default:
		return StateReady
	}
}

// Target is how many valid leaders the pool can have: min(wanted, eligible).
func (v Verdict) Target() int {
	return min(v.Wanted, v.Eligible)
}

// NeedsLeaders reports whether the pool is in an election: it is reachable,
// and has fewer valid leaders than it can have, or publishes leaders that
// are not valid.
func (v Verdict) NeedsLeaders() bool {
	return v.Enabled && !v.Unreachable && (v.Valid < v.Target() || v.Stale > 0)
}

// LeaderlessElectable reports a reachable pool with no valid leader
// although some Node could lead it.
func (v Verdict) LeaderlessElectable() bool {
	return v.Enabled && !v.Unreachable && v.Valid == 0 && v.Eligible > 0
}

// packedVerdict is a Verdict as the tracker keeps it, in 28 bytes instead
// of 56: its counts are those of one pool's Nodes.
type packedVerdict struct {
	wanted, published, valid, held, stale, eligible int32
	enabled, unreachable                            bool
}

func packVerdict(v Verdict) packedVerdict {
	return packedVerdict{wanted: int32(v.Wanted), published: int32(v.Published), valid: int32(v.Valid), held: int32(v.Held),
		stale: int32(v.Stale), eligible: int32(v.Eligible), enabled: v.Enabled, unreachable: v.Unreachable}
}

func (v packedVerdict) full() Verdict {
	return Verdict{Enabled: v.enabled, Wanted: int(v.wanted), Published: int(v.published), Valid: int(v.valid),
		Held: int(v.held), Stale: int(v.stale), Eligible: int(v.eligible), Unreachable: v.unreachable}
}
