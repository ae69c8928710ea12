// The phases, in one run on one server: the bare SignalWithStart ceiling of
// a Temporal client, the receiver's accepted webhooks per second at the
// same concurrency, ack latency at constant open-loop rates, end-to-end
// sessions per second, and memory and goroutines under load. HTTP load is
// paced by vegeta.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/simulator"
)

// Options select the load.
type Options struct {
	Concurrency int           // C: in-flight calls in the closed-loop phases
	Duration    time.Duration // each timed phase
	Sessions    int           // N: end-to-end sessions
	TaskQueue   string
	// Temporal is a client of the server the receiver uses; the ceiling is
	// measured with it.
	Temporal client.Client
	// Target is the running receiver, emulator and secrets.
	Target *simulator.Target
	// Receivers, when set, are several receivers of one stack (Target's
	// among them): webhooks go to them in turn.
	Receivers []string
	// AdminURL is where user rows are read (end to end).
	AdminURL string
	// InProcess is true when the stack runs in this process: memory and
	// the CPU profile then describe it.
	InProcess  bool
	CPUProfile string // file for a CPU profile of the receiver phase; "" none
	E2EProfile string // file for a CPU profile of the end-to-end phase; "" none
	// Onboarding is true when the stack's workers notify an app
	// (IDV_NOTIFY_URL): each final decision then starts the user's
	// onboarding run, which sizing measures too.
	Onboarding bool
	// OnlyEndToEnd runs the end-to-end phase alone (before/after
	// comparisons of a change to the workflow).
	OnlyEndToEnd bool
	Progress     func(string)
}

// Report is the outcome of one run.
type Report struct {
	When        time.Time `json:"when"`
	GoMaxProcs  int       `json:"gomaxprocs"`
	Concurrency int       `json:"concurrency"`
	Duration    string    `json:"phase_duration"`

	CeilingPerSec  float64 `json:"ceiling_signal_with_start_per_sec"`
	ReceiverPerSec float64 `json:"receiver_accepted_per_sec"`
	Ratio          float64 `json:"receiver_to_ceiling_ratio"`
	ReceiverErrors int     `json:"receiver_non_200"`

	Latency []LatencyAt `json:"ack_latency"`

	Sessions          int     `json:"e2e_sessions"`
	Deliveries        int     `json:"e2e_deliveries"`
	SessionsPerSec    float64 `json:"e2e_sessions_per_sec"`
	SessionP50Millis  float64 `json:"e2e_p50_ms"`
	SessionP99Millis  float64 `json:"e2e_p99_ms"`
	SessionsIncorrect int     `json:"e2e_wrong_or_missing"`
	Retried503        int     `json:"e2e_retried_503"`
	// From the 200 of a session's deciding webhook to its user row, as
	// seen by polling the admin API (resolution: one polling round).
	DecisionToRowP50Millis float64 `json:"e2e_decision_ack_to_row_p50_ms"`
	DecisionToRowP99Millis float64 `json:"e2e_decision_ack_to_row_p99_ms"`

	MaxRSSMiB     float64 `json:"max_rss_mib,omitempty"`
	MaxGoroutines int     `json:"max_goroutines,omitempty"`
}

// LatencyAt is the ack latency at one constant rate, with the latency of a
// bare SignalWithStart at the same rate: the floor the receiver sits on.
type LatencyAt struct {
	Percent   int     `json:"percent_of_ceiling"`
	Rate      float64 `json:"rate_per_sec"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
	Success   float64 `json:"success_ratio"`

	BareP50Millis float64 `json:"bare_p50_ms"`
	BareP99Millis float64 `json:"bare_p99_ms"`
	BareMaxMillis float64 `json:"bare_max_ms"`
}

// Run runs every phase in order.
func Run(ctx context.Context, o Options) (*Report, error) {
	say := o.Progress
	if say == nil {
		say = func(string) {}
	}
	r := &Report{When: time.Now().UTC(), GoMaxProcs: runtime.GOMAXPROCS(0), Concurrency: o.Concurrency, Duration: o.Duration.String()}
	sampler := startSampler(o.InProcess)

	// End to end runs first, on a quiet server: the throughput phases leave
	// thousands of started sessions behind, whose first workflow tasks would
	// otherwise queue in front of these.
	say(fmt.Sprintf("1/4 end to end: %d sessions, both providers, shuffled, 30%% repeats", o.Sessions))
	stopE2E, err := profile(o.E2EProfile)
	if err != nil {
		return nil, err
	}
	err = endToEnd(ctx, o, r)
	stopE2E()
	if err != nil {
		return nil, err
	}
	if o.OnlyEndToEnd {
		r.MaxRSSMiB, r.MaxGoroutines = sampler.stop()
		return r, nil
	}

	drain(ctx, o, say)
	say(fmt.Sprintf("2/4 ceiling: bare SignalWithStart, concurrency %d, %s", o.Concurrency, o.Duration))
	ceiling, err := ceiling(ctx, o)
	if err != nil {
		return nil, err
	}
	r.CeilingPerSec = ceiling

	drain(ctx, o, say)
	say(fmt.Sprintf("3/4 receiver: webhooks over HTTP, concurrency %d, %s", o.Concurrency, o.Duration))
	stopProfile, err := profile(o.CPUProfile)
	if err != nil {
		return nil, err
	}
	m := attack(o, vegeta.Rate{Freq: 0}, o.Duration, o.Concurrency)
	stopProfile()
	r.ReceiverPerSec = m.Throughput
	r.ReceiverErrors = int(m.Requests) - m.StatusCodes["200"]
	if ceiling > 0 {
		r.Ratio = r.ReceiverPerSec / ceiling
	}

	for _, pct := range []int{50, 90} {
		rate := ceiling * float64(pct) / 100
		say(fmt.Sprintf("4/4 ack latency at %d%% of the ceiling (%.0f/s), %s", pct, rate, o.Duration))
		pacer := vegeta.Rate{Freq: max(1, int(rate)), Per: time.Second}
		drain(ctx, o, say)
		m := attack(o, pacer, o.Duration, 0)
		drain(ctx, o, say)
		bare := paced(o, pacer, o.Duration)
		r.Latency = append(r.Latency, LatencyAt{
			Percent: pct, Rate: rate, Success: m.Success,
			P50Millis: ms(m.Latencies.P50), P99Millis: ms(m.Latencies.P99), MaxMillis: ms(m.Latencies.Max),
			BareP50Millis: ms(bare.Latencies.P50), BareP99Millis: ms(bare.Latencies.P99), BareMaxMillis: ms(bare.Latencies.Max),
		})
	}

	r.MaxRSSMiB, r.MaxGoroutines = sampler.stop()
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startedBody is the webhook both throughput phases send: a Veriff 7001
// "started" event for a new session, so each call starts a workflow that
// then waits, and the two phases ask the same of Temporal.
func startedBody(id string) []byte {
	return veriff.EventBody(id, sim.NewUUID(), "load-"+id[:8], veriff.Started)
}

// drain waits (up to a minute) until the worker has taken every workflow
// task the previous phase queued, so each phase meets the same server.
func drain(ctx context.Context, o Options, say func(string)) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := o.Temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     o.Target.Namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: o.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
			ReportStats:   true,
		})
		if err != nil || resp.GetStats().GetApproximateBacklogCount() == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	say("   (the workflow task backlog did not drain within a minute)")
}

// signalStarted does what the receiver does for one "started" webhook, with
// a bare client: parse, then SignalWithStart.
func signalStarted(o Options, p webhook.Provider) error {
	ev, err := p.Parse(startedBody(sim.NewUUID()))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return receiver.SignalWithStart(ctx, o.Temporal, o.TaskQueue, ev)
}

// paced calls the bare client open-loop at the pacer's rate, each call in
// its own goroutine, and collects the latencies into vegeta's metrics.
func paced(o Options, pacer vegeta.Pacer, d time.Duration) vegeta.Metrics {
	p := veriff.NewWebhooks("", nil) // parses only: the receiver has authenticated
	results := make(chan *vegeta.Result, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	go func() {
		var hits uint64
		for {
			wait, stop := pacer.Pace(time.Since(start), hits)
			if stop || time.Since(start) >= d {
				break
			}
			if wait > 0 {
				time.Sleep(wait)
				continue
			}
			hits++
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				err := signalStarted(o, p)
				res := &vegeta.Result{Timestamp: t0, Latency: time.Since(t0), Code: http.StatusOK}
				if err != nil {
					res.Code, res.Error = 0, err.Error()
				}
				results <- res
			}()
		}
		wg.Wait()
		close(results)
	}()
	var m vegeta.Metrics
	for res := range results {
		m.Add(res)
	}
	m.Close()
	return m
}

// ceiling calls SignalWithStart from C goroutines for the phase's duration,
// with the event the receiver would send for the same webhook.
func ceiling(ctx context.Context, o Options) (float64, error) {
	p := veriff.NewWebhooks("", nil) // parses only: the receiver has authenticated
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := signalStarted(o, p); err != nil {
					failed.Add(1)
				} else if ctx.Err() == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if ok.Load() == 0 {
		return 0, fmt.Errorf("ceiling: no SignalWithStart succeeded (%d failed)", failed.Load())
	}
	return float64(ok.Load()) / elapsed, nil
}

// attack posts signed "started" webhooks for new sessions at rate (Freq 0:
// as fast as workers allow) and returns vegeta's metrics.
func attack(o Options, rate vegeta.Rate, d time.Duration, workers int) vegeta.Metrics {
	var turn atomic.Uint64
	targets := o.targets()
	targeter := func(t *vegeta.Target) error {
		header, body, err := o.Target.Providers.Get(veriff.Name).Seal(startedBody(sim.NewUUID()))
		url := strings.TrimRight(targets[turn.Add(1)%uint64(len(targets))].ReceiverURL, "/") + "/webhooks/" + veriff.Name
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, url, body, header
		return err
	}
	opts := []func(*vegeta.Attacker){vegeta.Timeout(10 * time.Second), vegeta.KeepAlive(true)}
	if workers > 0 {
		opts = append(opts, vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)))
	}
	a := vegeta.NewAttacker(opts...)
	var m vegeta.Metrics
	for res := range a.Attack(targeter, rate, d, "idvflow") {
		m.Add(res)
	}
	m.Close()
	return m
}

// endToEnd runs N sessions, half per provider, their webhooks shuffled with
// about 30% delivered twice, and times each from its first webhook to its
// user row holding the final status.
func endToEnd(ctx context.Context, o Options, r *Report) error {
	type session struct {
		userID, want string
		first        time.Time
		decided      time.Time // the deciding webhook's first 200
		done         time.Duration
		doneAt       time.Time
	}
	type delivery struct {
		provider string
		body     []byte
		s        *session
		decision bool
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var sessions []*session
	var all []delivery
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range o.Sessions {
		s := &session{want: []string{"approved", "declined"}[rng.IntN(2)]}
		var ds []delivery
		if i%2 == 0 {
			id, att := sim.NewUUID(), sim.NewUUID()
			s.userID = "e2e-vf-" + id[:12]
			v, _ := json.Marshal(veriff.Verification(id, att, s.userID, s.want, now))
			if err := o.Target.Put(ctx, veriff.Name, id, v); err != nil {
				return err
			}
			ds = append(ds, delivery{"veriff", veriff.EventBody(id, att, s.userID, veriff.Submitted), s, false},
				delivery{"veriff", veriff.DecisionBody(id, att, s.userID, s.want, now), s, true})
		} else {
			key := sim.NewUUID()
			s.userID = "e2e-pb-" + key[:12]
			if err := o.Target.Put(ctx, passbase.Name, key, passbase.IdentityObject(key, s.userID, s.want, now.Add(-time.Minute), now)); err != nil {
				return err
			}
			// A Passbase decision applies once both webhooks are in: the
			// later of the two is the deciding one (marked at send time).
			ds = append(ds, delivery{"passbase", passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", now.Add(-time.Minute), now.Add(-time.Second)), s, true},
				delivery{"passbase", passbase.ReviewedBody(passbase.VocabularyNew, key, "", s.want, now.Add(-time.Minute), now), s, true})
		}
		for _, d := range ds {
			all = append(all, d)
			if rng.Float64() < 0.3 {
				all = append(all, d)
			}
		}
		sessions = append(sessions, s)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	r.Sessions, r.Deliveries = len(sessions), len(all)

	var mu sync.Mutex
	start := time.Now()
	work := make(chan delivery)
	var wg sync.WaitGroup
	var sendErr atomic.Value
	targets := o.targets()
	var retried atomic.Int64
	acked := map[*session]map[string]bool{} // deciding bodies acknowledged
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				mu.Lock()
				if d.s.first.IsZero() {
					d.s.first = time.Now()
				}
				mu.Unlock()
				// A 503 is retried, as the providers do, on the next receiver.
				code, answer, err := targets[w%len(targets)].Send(ctx, d.provider, d.body)
				for k := 1; err == nil && code == http.StatusServiceUnavailable && k < 20; k++ {
					retried.Add(1)
					time.Sleep(200 * time.Millisecond)
					code, answer, err = targets[(w+k)%len(targets)].Send(ctx, d.provider, d.body)
				}
				if err != nil || code != http.StatusOK {
					sendErr.Store(fmt.Errorf("e2e %s webhook: %d %s %v", d.provider, code, answer, err))
					continue
				}
				if d.decision {
					mu.Lock()
					if acked[d.s] == nil {
						acked[d.s] = map[string]bool{}
					}
					acked[d.s][string(d.body)] = true
					if need := map[string]int{"veriff": 1, "passbase": 2}[d.provider]; len(acked[d.s]) == need && d.s.decided.IsZero() {
						d.s.decided = time.Now()
					}
					mu.Unlock()
				}
			}
		}()
	}
	// Watch the user rows while sending.
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		hc := &http.Client{Timeout: 5 * time.Second}
		deadline := time.Now().Add(5 * time.Minute)
		pending := append([]*session(nil), sessions...)
		for len(pending) > 0 && time.Now().Before(deadline) {
			// Each sweep reads the pending rows 8 at a time: one by one,
			// a sweep of hundreds of rows would itself be the latency
			// measured.
			var still []*session
			var sweep sync.WaitGroup
			next := make(chan *session)
			for range 8 {
				sweep.Go(func() {
					for s := range next {
						mu.Lock()
						started := !s.first.IsZero()
						mu.Unlock()
						if started && userHas(hc, o.AdminURL, s.userID, s.want) {
							mu.Lock()
							s.done, s.doneAt = time.Since(s.first), time.Now()
							mu.Unlock()
							continue
						}
						mu.Lock()
						still = append(still, s)
						mu.Unlock()
					}
				})
			}
			for _, s := range pending {
				next <- s
			}
			close(next)
			sweep.Wait()
			pending = still
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for _, d := range all {
		work <- d
	}
	close(work)
	wg.Wait()
	<-watchDone
	if err, _ := sendErr.Load().(error); err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	r.Retried503 = int(retried.Load())
	var lat, toRow []time.Duration
	for _, s := range sessions {
		if s.done == 0 {
			r.SessionsIncorrect++
			continue
		}
		lat = append(lat, s.done)
		if !s.decided.IsZero() {
			toRow = append(toRow, max(0, s.doneAt.Sub(s.decided)))
		}
	}
	sort.Slice(toRow, func(i, j int) bool { return toRow[i] < toRow[j] })
	if len(toRow) > 0 {
		r.DecisionToRowP50Millis = ms(toRow[len(toRow)/2])
		r.DecisionToRowP99Millis = ms(toRow[min(len(toRow)-1, len(toRow)*99/100)])
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.SessionsPerSec = float64(len(lat)) / elapsed
	if len(lat) > 0 {
		r.SessionP50Millis = ms(lat[len(lat)/2])
		r.SessionP99Millis = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	}
	return nil
}

// targets is one Target per receiver.
func (o Options) targets() []*simulator.Target {
	if len(o.Receivers) == 0 {
		return []*simulator.Target{o.Target}
	}
	var ts []*simulator.Target
	for _, u := range o.Receivers {
		t := *o.Target
		t.ReceiverURL = u
		ts = append(ts, &t)
	}
	return ts
}

func userHas(hc *http.Client, adminURL, userID, status string) bool {
	resp, err := hc.Get(strings.TrimRight(adminURL, "/") + "/v1/users/" + userID)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var u struct {
		Status string `json:"status"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&u) == nil && u.Status == status
}

// profile starts a CPU profile into file, if one is asked for.
func profile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// sampler records the process's peak RSS and goroutines while it runs.
type sampler struct {
	stopc   chan struct{}
	done    chan struct{}
	maxRSS  float64
	maxGors int
}

func startSampler(on bool) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan struct{})}
	if !on {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			s.maxRSS = max(s.maxRSS, rssMiB())
			s.maxGors = max(s.maxGors, runtime.NumGoroutine())
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() (float64, int) {
	select {
	case <-s.done:
	default:
		close(s.stopc)
		<-s.done
	}
	return s.maxRSS, s.maxGors
}

// rssMiB reads VmRSS from /proc (Linux); 0 elsewhere.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// Markdown renders the report as the README's table.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s, GOMAXPROCS %d, concurrency %d, %s per timed phase.\n\n", r.When.Format(time.RFC3339), r.GoMaxProcs, r.Concurrency, r.Duration)
	b.WriteString("| measure | value | target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| 1. ceiling: bare `SignalWithStart`/s | %.0f | |\n", r.CeilingPerSec)
	fmt.Fprintf(&b, "| 2. receiver: accepted webhooks/s (non-200: %d) | %.0f | |\n", r.ReceiverErrors, r.ReceiverPerSec)
	fmt.Fprintf(&b, "| ratio 2/1 | %.2f | ≥ 0.90 %s |\n", r.Ratio, mark(r.Ratio >= 0.9))
	for _, l := range r.Latency {
		target := ""
		if l.Percent == 50 {
			target = "p99 ≤ 50 ms " + mark(l.P99Millis <= 50)
		}
		fmt.Fprintf(&b, "| 3. ack latency at %d%% (%.0f/s): p50 / p99 / max ms (success %.1f%%) | %.1f / %.1f / %.1f | %s |\n",
			l.Percent, l.Rate, l.Success*100, l.P50Millis, l.P99Millis, l.MaxMillis, target)
		fmt.Fprintf(&b, "| floor: bare `SignalWithStart` at %d%%: p50 / p99 / max ms | %.1f / %.1f / %.1f | |\n",
			l.Percent, l.BareP50Millis, l.BareP99Millis, l.BareMaxMillis)
	}
	fmt.Fprintf(&b, "| 4. end to end: %d sessions (%d deliveries, %d answers 503 and retried), sessions/s | %.1f | |\n", r.Sessions, r.Deliveries, r.Retried503, r.SessionsPerSec)
	fmt.Fprintf(&b, "| 4. end to end: p50 / p99 first webhook → user row, ms (wrong or missing: %d) | %.0f / %.0f | |\n",
		r.SessionsIncorrect, r.SessionP50Millis, r.SessionP99Millis)
	fmt.Fprintf(&b, "| 4. end to end: p50 / p99 deciding webhook's 200 → user row, ms | %.0f / %.0f | |\n",
		r.DecisionToRowP50Millis, r.DecisionToRowP99Millis)
	if r.MaxRSSMiB > 0 {
		fmt.Fprintf(&b, "| 5. peak RSS MiB / goroutines (whole process: Temporal, receiver, worker, load) | %.0f / %d | |\n", r.MaxRSSMiB, r.MaxGoroutines)
	}
	b.WriteString(r.why())
	return b.String()
}

// why explains each missed target from the run's own numbers.
func (r *Report) why() string {
	var notes []string
	if r.Ratio < 0.9 {
		notes = append(notes, fmt.Sprintf("- Ratio below 0.90: compare the CPU profile of the receiver phase "+
			"(`go tool pprof -top -focus idvflow/receiver receiver-cpu.prof`) with the run's noise; "+
			"the receiver saw %d non-200 answers.", r.ReceiverErrors))
	}
	for _, l := range r.Latency {
		if l.Percent != 50 || l.P99Millis <= 50 {
			continue
		}
		if l.BareP99Millis > 50 {
			notes = append(notes, fmt.Sprintf("- p99 above 50 ms at 50%%: the bare `SignalWithStart` p99 at the same rate is "+
				"already %.1f ms, so the floor is Temporal on this machine, not the receiver (%.1f ms).", l.BareP99Millis, l.P99Millis))
		} else {
			notes = append(notes, fmt.Sprintf("- p99 above 50 ms at 50%% while the bare client's is %.1f ms: the receiver adds "+
				"%.1f ms; read receiver-cpu.prof.", l.BareP99Millis, l.P99Millis-l.BareP99Millis))
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "\nMissed targets:\n" + strings.Join(notes, "\n") + "\n"
}

func mark(ok bool) string {
	if ok {
		return "✔"
	}
	return "✘"
}
