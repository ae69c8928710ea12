package record_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/record"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestR1FinalStatusesAndRanks(t *testing.T) {
	for status, final := range map[string]bool{
		"approved": true, "declined": true, "expired": true, "abandoned": true,
		"review": false, "resubmission_requested": false, "pending": false, "something_new": false,
	} {
		if record.Final(status) != final {
			t.Errorf("Final(%q) = %v", status, !final)
		}
		want := record.RankNonFinal
		if final {
			want = record.RankFinal
		}
		if got := record.RankOf(status, false); got != want {
			t.Errorf("RankOf(%q) = %d, want %d", status, got, want)
		}
		if got := record.RankOf(status, true); got != record.RankSessionEnd {
			t.Errorf("RankOf(%q, session end) = %d", status, got)
		}
	}
}

func TestR2R3KeyOrder(t *testing.T) {
	k := func(at time.Time, status string, end bool) record.Key {
		return record.Key{At: at, Rank: record.RankOf(status, end), Status: status, Provider: "passbase", SessionID: "s"}
	}
	for _, c := range []struct {
		name         string
		newer, older record.Key
		sameContent  bool
	}{
		{"R2 later time wins", k(t0.Add(time.Second), "pending", false), k(t0, "approved", false), false},
		{"R3 same second: final beats non-final", k(t0, "approved", false), k(t0, "pending", false), false},
		{"R3 same time: a session end follows its session", k(t0, "expired", true), k(t0, "approved", false), false},
		{"R3 same time and rank: text decides", k(t0, "declined", false), k(t0, "approved", false), false},
		{"R2 same content later", k(t0.Add(time.Minute), "approved", false), k(t0, "approved", false), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.newer.Compare(c.older) <= 0 || c.older.Compare(c.newer) >= 0 {
				t.Fatalf("%+v must order after %+v", c.newer, c.older)
			}
			if c.newer.SameContent(c.older) != c.sameContent {
				t.Fatalf("same content = %v, want %v", !c.sameContent, c.sameContent)
			}
		})
	}
	// Microseconds are what the store keeps: nothing finer decides.
	if k(t0.Add(time.Nanosecond), "approved", false).Compare(k(t0, "approved", false)) != 0 {
		t.Fatal("nanoseconds must not order decisions")
	}
}

func TestR5Time(t *testing.T) {
	if got := record.OrderTime(time.Time{}, t0); !got.Equal(t0) {
		t.Errorf("no provider time: ordered at %s, want the receipt %s", got, t0)
	}
	if got := record.OrderTime(t0.Add(-time.Hour), t0); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("ordered at %s, want the provider's time", got)
	}
	if got := record.OrderTime(t0.Add(time.Hour), t0); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("a provider time is never clamped: got %s", got)
	}
	if record.CheckFuture("t", t0.Add(record.MaxClockSkew), t0) != nil || record.CheckFuture("t", t0.Add(record.MaxClockSkew+time.Second), t0) == nil {
		t.Error("the future starts after MaxClockSkew")
	}
	for _, bad := range []time.Time{time.Unix(10, 0), time.Date(2286, 11, 20, 0, 0, 0, 0, time.UTC), time.UnixMilli(1e15)} {
		if record.CheckTime("t", bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if record.CheckTime("t", time.Time{}) != nil || record.CheckTime("t", t0) != nil {
		t.Error("no time and a plausible time must pass")
	}
}

func TestR9Strings(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"user-1", true}, {"üser ☃", true}, {string(make([]byte, 255)), false}, {"a\x00b", false},
		{"a\nb", false}, {"\xff", false}, {"a\x7fb", false},
	} {
		if err := record.CheckString("user id", c.s, record.MaxUserID); (err == nil) != c.ok {
			t.Errorf("CheckString(%q): %v, want ok=%v", c.s, err, c.ok)
		}
	}
	long := make([]byte, record.MaxUserID+1)
	for i := range long {
		long[i] = 'u'
	}
	if record.CheckString("user id", string(long), record.MaxUserID) == nil {
		t.Error("256 bytes accepted")
	}
}

func TestR1Verdicts(t *testing.T) {
	for status, verdict := range map[string]bool{
		"approved": true, "declined": true, "expired": false, "abandoned": false,
		"review": false, "resubmission_requested": false, "pending": false, "error": false, "something_new": false,
	} {
		if record.Verdict(status) != verdict {
			t.Errorf("Verdict(%q) = %v", status, !verdict)
		}
	}
}

// R2: the record's state is the fold of the decisions applied to it, the
// same in every order: the greatest of all as the latest, the greatest
// verdict as the status once there is one.
func TestR2StateIsTheSameInEveryOrder(t *testing.T) {
	statuses := []string{"approved", "declined", "review", "expired", "abandoned", "pending"}
	rapid.Check(t, func(rt *rapid.T) {
		var keys []record.Key
		for range rapid.IntRange(1, 6).Draw(rt, "decisions") {
			st := rapid.SampledFrom(statuses).Draw(rt, "status")
			end := st == "expired" && rapid.Bool().Draw(rt, "idvflow's ending")
			keys = append(keys, record.Key{
				At:        t0.Add(time.Duration(rapid.IntRange(0, 3).Draw(rt, "time")) * time.Minute),
				Rank:      record.RankOf(st, end),
				Status:    st,
				SessionID: rapid.SampledFrom([]string{"s1", "s2"}).Draw(rt, "session"),
			})
		}
		fold := func(ks []record.Key) record.State {
			st := record.NewState(ks[0])
			for _, k := range ks[1:] {
				st, _ = st.With(k)
			}
			return st
		}
		want := fold(keys)
		order := rapid.Permutation(keys).Draw(rt, "order")
		if got := fold(order); !got.Equal(want) {
			rt.Fatalf("R2: %v in order %v gives %+v, in order %v %+v", keys, order, got, keys, want)
		}
		var latest, verdict *record.Key
		for i, k := range keys {
			if latest == nil || k.Compare(*latest) > 0 {
				latest = &keys[i]
			}
			if record.Verdict(k.Status) && (verdict == nil || k.Compare(*verdict) > 0) {
				verdict = &keys[i]
			}
		}
		shown := *latest
		if verdict != nil {
			shown = *verdict
		}
		if want.Latest.Compare(*latest) != 0 || want.Shown().Compare(shown) != 0 {
			rt.Fatalf("R2: state %+v, want latest %+v shown %+v", want, *latest, shown)
		}
	})
}

// R2: a later session outcome beside a verdict is applied (it is the new
// latest) but leaves the status; a newer verdict replaces it.
func TestR2VerdictChangesOnlyByAVerdict(t *testing.T) {
	approved := record.Key{At: t0, Rank: record.RankFinal, Status: "approved", SessionID: "s1"}
	st := record.NewState(approved)
	st, out := st.With(record.Key{At: t0.Add(time.Hour), Rank: record.RankSessionEnd, Status: "expired", SessionID: "s2"})
	if out != record.Applied || st.Shown().Status != "approved" || st.Latest.Status != "expired" {
		t.Fatalf("after a later expiry: %s, shown %s, latest %s", out, st.Shown().Status, st.Latest.Status)
	}
	st, out = st.With(record.Key{At: t0.Add(2 * time.Hour), Rank: record.RankFinal, Status: "declined", SessionID: "s3"})
	if out != record.Applied || st.Shown().Status != "declined" {
		t.Fatalf("after a newer decline: %s, shown %s", out, st.Shown().Status)
	}
}
