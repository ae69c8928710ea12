// Command replaycheck is the step before every deploy: it fetches the recent
// histories of a namespace's workflows and replays each one against the
// workflow code it is built from, so a change that would break runs in
// flight (another activity, a timer, a different order, without
// workflow.GetVersion) is found before the new workers meet those runs:
//
//	go run ./cmd/replaycheck                                  # the newest 500 idvflow runs
//	go run ./cmd/replaycheck -query 'ExecutionStatus="Running"' -n 1000
//
// It connects with the same TEMPORAL_* variables (and profile file) as the
// worker, and decrypts payloads with the same IDV_PAYLOAD_KEYS. It prints
// each history that does not replay, with its workflow and run id, then a
// summary line, and exits 1 if any did not (2 for a bad configuration).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

// config is what replaycheck reads from the environment: the worker's
// connection and payload keys, and its log settings.
type config struct {
	Temporal temporalconn.Config
	Log      logging.Config
	// BuildID is the build being checked, when the workers are versions of
	// a Worker Deployment: runs pinned to another build never run this
	// code, so they are not replayed against it.
	BuildID string `env:"IDV_WORKER_BUILD_ID"`
}

// Validate implements envconf.Validator.
func (c *config) Validate() []error {
	return append(c.Temporal.Validate(), c.Log.Validate()...)
}

// defaultQuery is every idvflow run, open or closed, of every workflow type
// the worker registers (worker.RegisterWorkflows): a namespace may hold
// other services' workflow types, which this code cannot replay.
var defaultQuery = fmt.Sprintf("WorkflowType=%q OR WorkflowType=%q OR WorkflowType=%q",
	workflows.WorkflowName, onboarding.WorkflowName, operator.WorkflowName)

func main() {
	version.ExitIfAsked("replaycheck")
	query := flag.String("query", defaultQuery, "visibility query selecting the runs to replay")
	n := flag.Int("n", 500, "replay at most N histories, the first the query lists (Temporal lists the newest first)")
	build := flag.String("build", "", "the build id being checked (default IDV_WORKER_BUILD_ID): runs pinned to other builds are skipped")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long (an unreachable Temporal, a huge namespace)")
	flag.Parse()
	if *n <= 0 {
		fmt.Fprintln(os.Stderr, "replaycheck: -n must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var cfg config
	if err := envconf.Load(ctx, &cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "replaycheck:", err)
		os.Exit(2)
	}
	if *build != "" {
		cfg.BuildID = *build
	}
	rep, err := run(ctx, &cfg, *query, *n, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replaycheck:", err)
		os.Exit(1)
	}
	if rep.failed() {
		os.Exit(1)
	}
}

// run is main after the configuration: it connects as the worker does and
// checks with idvflow's own workflow registration.
func run(ctx context.Context, cfg *config, query string, n int, out io.Writer) (report, error) {
	log := logging.New(cfg.Log, os.Stderr).With("service", "replaycheck")
	if log.Enabled(ctx, slog.LevelDebug) {
		replayLog = tlog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	}
	c, err := temporalconn.Lazy(cfg.Temporal, log, nil)
	if err != nil {
		return report{}, err
	}
	defer c.Close()
	codec, err := cfg.Temporal.Codec()
	if err != nil {
		return report{}, err
	}
	// The client's own options hold the converter its workers decode with
	// (the codec behind temporalconn's guard); the replayer must decode the
	// same way, or an encrypted history fails to replay for the wrong reason.
	opts, err := temporalconn.Options(log, nil, codec)
	if err != nil {
		return report{}, err
	}
	r, err := newReplayer(opts.DataConverter, func(r sdkworker.WorkflowRegistry) {
		// A run's timings and rules are recorded in its history (a side
		// effect, or carried over a continue-as-new), so replay never reads
		// the configuration registered here: the defaults do.
		worker.RegisterWorkflows(r, workflows.DefaultConfig())
	})
	if err != nil {
		return report{}, err
	}
	return check(ctx, c, r, selection{query: query, n: n, build: cfg.BuildID}, out)
}

// newReplayer is a replayer of the workflow types register registers,
// decoding payloads with dc.
func newReplayer(dc converter.DataConverter, register func(sdkworker.WorkflowRegistry)) (sdkworker.WorkflowReplayer, error) {
	r, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{DataConverter: dc})
	if err != nil {
		return nil, fmt.Errorf("workflow replayer: %w", err)
	}
	register(r)
	return r, nil
}

// selection is what a check replays: the first n runs query lists, but
// those pinned to a build other than build (a Worker Deployment's
// version; every pinned run when build is empty).
type selection struct {
	query string
	n     int
	build string
}

// report is the outcome of a check.
type report struct {
	Replayed int
	// Pinned counts the runs skipped as pinned to another build.
	Pinned   int
	Failures []failure
}

// failure is one history that did not replay.
type failure struct {
	WorkflowType, WorkflowID, RunID string
	// NonDeterministic: the code gives other commands than the history
	// recorded. Otherwise the history could not be checked (fetch failed,
	// a payload did not decode, an unregistered type).
	NonDeterministic bool
	Err              error
}

func (r report) failed() bool { return len(r.Failures) > 0 }

func (r report) count(nonDet bool) int {
	k := 0
	for _, f := range r.Failures {
		if f.NonDeterministic == nonDet {
			k++
		}
	}
	return k
}

// check replays the first n histories query lists with r, writes a line
// per failure and a summary to out, and returns what it found. Its error
// is for a check that could not run (the listing failed); a history that
// fails is a failure in the report.
func check(ctx context.Context, c client.Client, r sdkworker.WorkflowReplayer, sel selection, out io.Writer) (report, error) {
	query, n := sel.query, sel.n
	var rep report
	var token []byte
	for rep.Replayed < n {
		page, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: int32(min(n-rep.Replayed, 100)), NextPageToken: token,
		})
		if err != nil {
			return rep, fmt.Errorf("list workflows (%s): %w", query, err)
		}
		for _, ex := range page.GetExecutions() {
			if rep.Replayed == n {
				break
			}
			f := failure{WorkflowType: ex.GetType().GetName(), WorkflowID: ex.GetExecution().GetWorkflowId(), RunID: ex.GetExecution().GetRunId()}
			if pinned, err := pinnedElsewhere(ctx, c, ex, sel.build); err == nil && pinned {
				rep.Pinned++
				continue
			}
			rep.Replayed++
			f.Err = replayOne(ctx, c, r, f.WorkflowID, f.RunID)
			if f.Err == nil {
				continue
			}
			if ctx.Err() != nil {
				return rep, fmt.Errorf("replay %s (run %s): %w", f.WorkflowID, f.RunID, f.Err)
			}
			f.NonDeterministic = nonDeterministic(f.Err)
			rep.Failures = append(rep.Failures, f)
			kind := "ERROR"
			if f.NonDeterministic {
				kind = "NON-DETERMINISTIC"
			}
			fmt.Fprintf(out, "%s %s %s (run %s): %v\n", kind, f.WorkflowType, f.WorkflowID, f.RunID, f.Err)
		}
		if token = page.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	fmt.Fprintf(out, "replayed %d histories: %d non-deterministic, %d errors", rep.Replayed, rep.count(true), rep.count(false))
	if rep.Pinned > 0 {
		fmt.Fprintf(out, "; %d pinned to other builds, not replayed", rep.Pinned)
	}
	fmt.Fprintln(out)
	return rep, nil
}

// pinnedElsewhere reports whether run ex is pinned to a Worker
// Deployment version other than build: Temporal never gives its tasks to
// another build, so the code being checked never meets its history.
func pinnedElsewhere(ctx context.Context, c client.Client, ex *workflowpb.WorkflowExecutionInfo, build string) (bool, error) {
	vi := ex.GetVersioningInfo()
	if vi == nil {
		d, err := c.DescribeWorkflowExecution(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId())
		if err != nil {
			return false, err
		}
		vi = d.GetWorkflowExecutionInfo().GetVersioningInfo()
	}
	if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED {
		return false, nil
	}
	return build == "" || vi.GetDeploymentVersion().GetBuildId() != build, nil
}

// replayLog is the SDK's log while replaying; IDV_LOG_LEVEL=debug shows
// it. Otherwise it is dropped: each failure's error already says what
// broke, and the SDK would add, per history, a stack trace into its own
// command matching.
var replayLog tlog.Logger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))

// replayOne fetches a run's whole history and replays it.
func replayOne(ctx context.Context, c client.Client, r sdkworker.WorkflowReplayer, workflowID, runID string) error {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("fetch history: %w", err)
		}
		h.Events = append(h.Events, e)
	}
	// A run no worker has picked up yet recorded no commands the code could
	// contradict (and the replayer refuses fewer than three events).
	if len(h.Events) < 3 {
		return nil
	}
	// The run's own ids, not the replayer's placeholders, so code that reads
	// workflow.GetInfo replays as it ran.
	err := r.ReplayWorkflowHistoryWithOptions(replayLog, &h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: workflowID, RunID: runID},
	})
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// nonDeterministic tells a history the code contradicts from one that
// could not be checked. The SDK marks every non-determinism it detects
// with TMPRL1100; the mismatch itself arrives as text (a workflow task
// failure), not as an error type.
func nonDeterministic(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "tmprl1100") || strings.Contains(s, "nondetermin")
}
