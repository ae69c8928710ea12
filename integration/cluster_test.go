package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/simulator"
)

// TestClusterFaults runs against deploy/local-cluster.sh's stack (the
// official Temporal server on PostgreSQL, two receivers and two workers as
// separate processes): it is skipped unless IDV_CLUSTER_ENV names the
// stack's env file, as .ci/run sets it. A few hundred sessions, shuffled,
// about 30% of webhooks delivered twice, go to both receivers; meanwhile
// one worker is killed with SIGKILL, the Temporal server process restarts
// and PostgreSQL restarts. Every webhook is retried until acknowledged, as
// the providers do; in the end every session completed, each user has its
// decision, and none was applied twice.
func TestClusterFaults(t *testing.T) {
	cluster := clusterEnv(t)
	receivers := strings.Split(cluster["IDV_CLUSTER_RECEIVERS"], ",")
	script := cluster["IDV_CLUSTER_SCRIPT"]
	api := remoteEmulator{t: t, target: &simulator.Target{EmulatorURL: cluster["IDV_CLUSTER_EMULATOR"]}}

	// User ids unique to this run (the cluster's database outlives it),
	// with decision times (2026-01-01 plus the index in minutes) in the past.
	base := int(time.Now().Unix()%300) * 1000
	r := rand.New(rand.NewPCG(uint64(base), 7))
	const n = 300
	var sessions []session
	var all []delivery
	for i := range n {
		s := veriffSession(t, api, base+i, r)
		if i%2 == 1 {
			s = passbaseSession(t, api, base+i, r)
		}
		sessions = append(sessions, s)
		all = append(all, s.deliveries...)
		for _, d := range s.deliveries {
			if r.IntN(10) < 3 {
				all = append(all, d)
			}
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	// Faults at a quarter, a half and three quarters of the deliveries.
	var sent atomic.Int64
	faults := []struct {
		at   int
		args []string
	}{
		{len(all) / 4, []string{"kill-worker", "1"}},
		{len(all) / 2, []string{"restart-temporal"}},
		{3 * len(all) / 4, []string{"restart-postgres"}},
	}
	faultsDone := make(chan error, 1)
	defer exec.Command("bash", script, "start-worker", "1").Run() // leave the stack whole
	go func() {
		for _, f := range faults {
			for sent.Load() < int64(f.at) {
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("fault after %d deliveries: %s", sent.Load(), strings.Join(f.args, " "))
			if out, err := exec.Command("bash", append([]string{script}, f.args...)...).CombinedOutput(); err != nil {
				faultsDone <- fmt.Errorf("%s: %v\n%s", f.args, err, out)
				return
			}
		}
		faultsDone <- nil
	}()

	// Eight senders, alternating receivers; each delivery is retried until
	// a 2xx, for at most five minutes (a provider retries for days).
	work := make(chan int)
	var wg sync.WaitGroup
	var retries atomic.Int64
	hc := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				d := all[i]
				deadline := time.Now().Add(5 * time.Minute)
				for k := 0; ; k++ {
					code, err := post(hc, receivers[(i+k)%len(receivers)], d)
					if err == nil && code == http.StatusOK {
						break
					}
					if err == nil && code != http.StatusServiceUnavailable {
						t.Errorf("delivery %d: %d", i, code)
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("delivery %d never acknowledged: %d %v", i, code, err)
						break
					}
					retries.Add(1)
					time.Sleep(500 * time.Millisecond)
				}
				sent.Add(1)
			}
		}()
	}
	for i := range all {
		work <- i
	}
	close(work)
	wg.Wait()
	if err := <-faultsDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d deliveries of %d sessions acknowledged, %d retried answers", len(all), n, retries.Load())
	if t.Failed() {
		return
	}

	c := clusterClient(t, cluster)
	waitClosed(t, c, sessions, 5*time.Minute)
	users, err := userstore.Open(context.Background(), cluster["IDV_CLUSTER_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	checkUserRows(t, users, sessions)
}

func post(hc *http.Client, base string, d delivery) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+d.path, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header = d.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", d.contentType)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body) // lets the connection be reused
	resp.Body.Close()
	return resp.StatusCode, nil
}

// remoteEmulator sets the emulator's answers through its control routes
// (the simulator's), failing the test on an error.
type remoteEmulator struct {
	t      *testing.T
	target *simulator.Target
}

func (e remoteEmulator) Put(provider, id string, obj json.RawMessage) {
	if err := e.target.Put(context.Background(), provider, id, obj); err != nil {
		e.t.Fatal(err)
	}
}

// clusterEnv reads deploy/local-cluster.sh's description of its stack, or
// skips the test unless IDV_CLUSTER_ENV names it (as .ci/run sets it).
func clusterEnv(t *testing.T) map[string]string {
	t.Helper()
	envFile := os.Getenv("IDV_CLUSTER_ENV")
	if envFile == "" {
		t.Skip("IDV_CLUSTER_ENV is not set: start deploy/local-cluster.sh up and point it at its env file")
	}
	cluster, err := envconf.ReadFile(envFile)
	if err != nil {
		t.Fatalf("IDV_CLUSTER_ENV: %v (is deploy/local-cluster.sh up?)", err)
	}
	return cluster
}

// clusterClient is a Temporal client of the cluster's namespace, with its
// payload keys; the test's end closes it.
func clusterClient(t *testing.T, cluster map[string]string) client.Client {
	t.Helper()
	lookup := temporalconn.EnvMap{"TEMPORAL_ADDRESS": cluster["TEMPORAL_ADDRESS"], "TEMPORAL_NAMESPACE": cluster["TEMPORAL_NAMESPACE"]}
	c, err := temporalconn.Lazy(temporalconn.Config{Env: lookup, DisableFile: true, PayloadKeys: cluster["IDV_PAYLOAD_KEYS"]}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
