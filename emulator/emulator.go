// Package emulator is a local stand-in for the providers' APIs, which cannot
// be reached from development machines or tests. It is provider-neutral:
// each provider package mounts its own routes (providers.Config.Emulate),
// with its authentication and its error answers, on the objects tests and
// the simulator store here per provider and session. The emulator adds what
// every route shares: planned and random faults (400s, 401, 404, 429 with
// Retry-After, 5xx, slow answers), call counts and the statuses served.
//
// Tests and the simulator load it directly or through its control routes
// under /_emulator/.
package emulator

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Config tunes the emulator; the credentials each route accepts are its
// provider's configuration's.
type Config struct {
	// StateFile, if set, keeps the stored objects across restarts.
	StateFile string
	// FaultRate (0..1) makes that share of API calls fail at random: 500,
	// 429 with Retry-After, or an answer slower than FaultDelay.
	FaultRate  float64
	FaultDelay time.Duration
}

// Emulator serves the emulated APIs. It is safe for concurrent use.
type Emulator struct {
	cfg Config
	mux *http.ServeMux

	mu      sync.Mutex
	objects map[string]json.RawMessage // provider/id -> what the API answers
	faults  map[string][]Fault
	calls   map[string]int
	answers map[string][]int  // id -> statuses served, in the order the calls arrived
	clients map[string]string // id -> the credential of its last authentic call
}

// Fault is one planned failure: an HTTP status (with Retry-After for 429 and
// 503), or a delay before answering.
type Fault struct {
	Status int           `json:"status"`
	Delay  time.Duration `json:"delay"`
}

// New returns an emulator with its control routes, loaded from
// cfg.StateFile when it exists. Providers add their routes with Handle.
func New(cfg Config) *Emulator {
	e := &Emulator{
		cfg:     cfg,
		mux:     http.NewServeMux(),
		objects: map[string]json.RawMessage{},
		faults:  map[string][]Fault{},
		calls:   map[string]int{},
		answers: map[string][]int{},
		clients: map[string]string{},
	}
	if cfg.StateFile != "" {
		if b, err := os.ReadFile(cfg.StateFile); err == nil {
			var st state
			if json.Unmarshal(b, &st) == nil {
				maps.Copy(e.objects, st.Objects)
			}
		}
	}
	e.mux.HandleFunc("PUT /_emulator/objects/{provider}/{id}", e.controlPut)
	e.mux.HandleFunc("POST /_emulator/faults/{id}", e.controlFaults)
	return e
}

// state is what StateFile holds.
type state struct {
	Objects map[string]json.RawMessage `json:"objects"`
}

// save writes the state file; the caller holds e.mu. It writes a temporary
// file and renames it, so a crash never leaves half a file.
func (e *Emulator) save() {
	if e.cfg.StateFile == "" {
		return
	}
	b, err := json.Marshal(state{Objects: e.objects})
	if err != nil {
		return
	}
	tmp := e.cfg.StateFile + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, e.cfg.StateFile)
	}
}

// Put stores what the provider's API answers for session id; nil means
// "known, nothing yet" (a route decides what that looks like).
func (e *Emulator) Put(provider, id string, obj json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.objects[provider+"/"+id] = obj
	e.save()
}

// Object returns what Put stored for the provider's session id.
func (e *Emulator) Object(provider, id string) (json.RawMessage, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	obj, ok := e.objects[provider+"/"+id]
	return obj, ok
}

// FailNext makes the next calls for id answer with faults, in order.
func (e *Emulator) FailNext(id string, faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[id] = append(e.faults[id], faults...)
}

// Calls returns how many API calls were made for id.
func (e *Emulator) Calls(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[id]
}

// Answers returns the HTTP statuses served for id's API calls in the order
// the calls arrived (0 for a call its caller abandoned, or one still being
// answered), so a test can tell a retried transient fault from a repeated
// permanent one.
func (e *Emulator) Answers(id string) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.answers[id]...)
}

// SawClient records the credential (an API key) of an authentic call for
// id; Client returns the last one, so a test can tell which of several
// integrations called.
func (e *Emulator) SawClient(id, client string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clients[id] = client
}

// Client returns the credential SawClient last recorded for id.
func (e *Emulator) Client(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clients[id]
}

// Handler returns the emulated APIs and the control routes.
func (e *Emulator) Handler() http.Handler { return e.mux }

// Handle mounts a provider's API route; pattern names the session as {id}.
// Each call is counted, may meet a planned or random fault first, and has
// its answer's status recorded.
func (e *Emulator) Handle(pattern string, h func(w http.ResponseWriter, r *http.Request, id string)) {
	e.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		// The answer's place is the call's arrival, not its end: a slow
		// answer its caller abandoned stays before the retry that followed.
		e.mu.Lock()
		slot := len(e.answers[id])
		e.answers[id] = append(e.answers[id], 0)
		e.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if e.countAndFault(sw, id) {
			h(sw, r, id)
		}
		if r.Context().Err() != nil {
			sw.status = 0 // the caller gave up (a slow answer past its timeout)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.answers[id][slot] = sw.status
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// countAndFault counts the call and answers the next planned fault, if any;
// it returns false when it answered.
func (e *Emulator) countAndFault(w http.ResponseWriter, id string) bool {
	e.mu.Lock()
	e.calls[id]++
	var f *Fault
	if q := e.faults[id]; len(q) > 0 {
		f, e.faults[id] = &q[0], q[1:]
	} else if e.cfg.FaultRate > 0 && rand.Float64() < e.cfg.FaultRate {
		random := []Fault{{Status: 500}, {Status: 429}, {Status: 503}, {Delay: e.cfg.FaultDelay}}[rand.IntN(4)]
		f = &random
	}
	e.mu.Unlock()
	if f == nil {
		return true
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Status == 0 {
		return true
	}
	if f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, f.Status, map[string]string{"message": http.StatusText(f.Status)})
	return false
}

func (e *Emulator) controlPut(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "body must be JSON"})
		return
	}
	if string(body) == "null" {
		body = nil
	}
	e.Put(r.PathValue("provider"), r.PathValue("id"), body)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) controlFaults(w http.ResponseWriter, r *http.Request) {
	var faults []Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&faults); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"message": `body must be [{"status":500}, …]`})
		return
	}
	e.FailNext(r.PathValue("id"), faults...)
	w.WriteHeader(http.StatusNoContent)
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	WriteRaw(w, status, b)
}

// WriteRaw answers b, which is JSON, with status.
func WriteRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}
