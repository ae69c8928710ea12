// Command vulncheck runs govulncheck over idvflow, offline, on the toolchain
// that builds the shipped binaries, and fails on any vulnerability the code
// calls that the exceptions file does not list.
//
//	go run ./deploy/vulncheck           # the check .ci/run runs
//	go run ./deploy/vulncheck -update   # move the pinned vulndb to the newest, and show what changed
//
// The vulnerability database is built on the machine from the pinned
// golang.org/x/vulndb module (served by the Go module proxy, which is the one
// source these machines reach): its data/osv folder is committed into a
// scratch git repository, as vulndb's own gendb wants, and gendb writes the
// database that govulncheck reads with -db file://. The database is cached
// per vulndb version under the user cache directory.
//
// Why a program and not govulncheck alone: govulncheck has no exceptions
// file, and a vulnerability with no fixed version (there are two in echo, the
// Web UI server's router) would fail CI forever. This program reads
// govulncheck's JSON stream, takes the vulnerabilities the code calls, and
// checks them against exceptions.txt, which must give each listed id a
// reason; an exception that is no longer reported fails too, so the file
// never says more than is true.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/idvflow/idvflow/internal/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The pinned tools. govulncheck's version is pinned here; the database's
// version lives in vulndb.version so that -update can rewrite it.
const (
	govulncheckPkg = "golang.org/x/vuln/cmd/govulncheck@v1.9.0"
	vulndbModule   = "golang.org/x/vulndb"
)

func main() {
	version.ExitIfAsked("vulncheck")
	update := flag.Bool("update", false, "move the pinned vulndb to the newest version served, show what changed, then check")
	dir := flag.String("dir", "deploy/vulncheck", "folder holding vulndb.version and exceptions.txt, relative to the module root")
	flag.Parse()
	if err := run(context.Background(), *dir, *update, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, update bool, out io.Writer) error {
	pinFile := filepath.Join(dir, "vulndb.version")
	pinned, err := readPin(pinFile)
	if err != nil {
		return err
	}
	exceptions, err := readExceptionsFile(filepath.Join(dir, "exceptions.txt"))
	if err != nil {
		return err
	}
	toolchain, err := shippedToolchain("go.mod")
	if err != nil {
		return err
	}
	version := pinned
	if update {
		latest, err := latestVulndb(ctx)
		if err != nil {
			return err
		}
		if latest == pinned {
			fmt.Fprintf(out, "vulndb %s is already the newest served\n", pinned)
		} else {
			if err := showNewEntries(ctx, out, pinned, latest); err != nil {
				return err
			}
			version = latest
		}
	}
	db, err := database(ctx, version)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "govulncheck %s, vulndb %s, toolchain %s\n", govulncheckPkg, version, toolchain)
	stream, err := scan(ctx, db, toolchain)
	if err != nil {
		return err
	}
	res, err := parseStream(bytes.NewReader(stream))
	if err != nil {
		return err
	}
	verdict := judge(res, exceptions)
	verdict.print(out)
	if update && version != pinned {
		// The pin moves even when the check fails: the failure is what the
		// maintainer has to act on next, under the newer database.
		if err := os.WriteFile(pinFile, []byte(version+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s now pins %s (was %s); review with git diff and commit\n", pinFile, version, pinned)
	}
	if !verdict.ok() {
		return errors.New("called vulnerabilities outside the exceptions file, or stale exceptions (above)")
	}
	return nil
}

// readPin reads the one-line vulndb version file.
func readPin(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read pinned vulndb version: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if !strings.HasPrefix(v, "v") || strings.ContainsAny(v, " \t\n") {
		return "", fmt.Errorf("%s: want one module version such as v0.0.0-20261105234957-e22db6528018, got %q", path, v)
	}
	return v, nil
}

// shippedToolchain is go.mod's toolchain line: the one Go that builds what
// ships (the Dockerfile, deploy/build.sh and .ci/run select it too).
func shippedToolchain(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("read %s (run from the module root): %w", gomod, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "toolchain" {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s has no toolchain line", gomod)
}

// exception is one listed vulnerability and the reason it is accepted.
type exception struct {
	ID     string
	Reason string
}

func readExceptionsFile(path string) (map[string]exception, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read exceptions: %w", err)
	}
	defer f.Close()
	ex, err := parseExceptions(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ex, nil
}

// parseExceptions reads lines of "ID: reason"; a reason may continue on the
// following lines indented by white space. '#' starts a comment line.
func parseExceptions(r io.Reader) (map[string]exception, error) {
	ex := map[string]exception{}
	var last string
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("line %d: continuation with no exception above it", n)
			}
			e := ex[last]
			e.Reason += " " + trimmed
			ex[last] = e
			continue
		}
		id, reason, found := strings.Cut(trimmed, ":")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !found || !strings.HasPrefix(id, "GO-") || strings.ContainsAny(id, " \t") {
			return nil, fmt.Errorf("line %d: want \"GO-YYYY-NNNN: reason\", got %q", n, trimmed)
		}
		if _, dup := ex[id]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", n, id)
		}
		ex[id] = exception{ID: id, Reason: reason}
		last = id
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for id, e := range ex {
		if len(e.Reason) < 20 {
			return nil, fmt.Errorf("%s: the reason must say why idvflow's use does not reach it or what bounds it", id)
		}
	}
	return ex, nil
}

// The part of govulncheck's JSON stream (golang.org/x/vuln
// internal/govulncheck) that the verdict needs.
type message struct {
	Config *struct {
		GoVersion string `json:"go_version"`
		DB        string `json:"db"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

// vuln is one vulnerability as the scan found it, at its most precise level.
type vuln struct {
	ID      string
	Summary string
	Module  string // module@version, "stdlib@goX" for the standard library
	Fixed   string // "" when no fixed version exists
	Level   level
}

type level int

const (
	required level = iota // in a required module only
	imported              // in a package the code imports
	called                // a vulnerable symbol the code reaches
)

type scanResult struct {
	GoVersion string
	Vulns     map[string]*vuln
}

// parseStream reads govulncheck -format json output.
func parseStream(r io.Reader) (scanResult, error) {
	res := scanResult{Vulns: map[string]*vuln{}}
	summaries := map[string]string{}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return res, fmt.Errorf("read govulncheck's JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			if m.Config.GoVersion != "" {
				res.GoVersion = m.Config.GoVersion
			}
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f, top := m.Finding, m.Finding.Trace[0]
			lv := required
			switch {
			case top.Function != "":
				lv = called
			case top.Package != "":
				lv = imported
			}
			v := res.Vulns[f.OSV]
			if v == nil {
				v = &vuln{ID: f.OSV, Level: lv}
				res.Vulns[f.OSV] = v
			}
			if lv >= v.Level {
				v.Level = lv
				v.Module = top.Module + "@" + top.Version
				v.Fixed = f.FixedVersion
			}
		}
	}
	for id, v := range res.Vulns {
		v.Summary = summaries[id]
	}
	return res, nil
}

// verdict is the check's outcome.
type verdict struct {
	GoVersion     string
	Unexcepted    []*vuln // called and not listed: CI fails
	Excepted      []*vuln // called and listed with a reason
	Stale         []string
	NotCalled     int
	exceptionText map[string]string
}

func judge(res scanResult, ex map[string]exception) verdict {
	v := verdict{GoVersion: res.GoVersion, exceptionText: map[string]string{}}
	calledIDs := map[string]bool{}
	for _, x := range res.Vulns {
		if x.Level != called {
			v.NotCalled++
			continue
		}
		calledIDs[x.ID] = true
		if e, ok := ex[x.ID]; ok {
			v.Excepted = append(v.Excepted, x)
			v.exceptionText[x.ID] = e.Reason
		} else {
			v.Unexcepted = append(v.Unexcepted, x)
		}
	}
	for id := range ex {
		if !calledIDs[id] {
			v.Stale = append(v.Stale, id)
		}
	}
	byID := func(a, b *vuln) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(v.Unexcepted, byID)
	slices.SortFunc(v.Excepted, byID)
	sort.Strings(v.Stale)
	return v
}

func (v verdict) ok() bool { return len(v.Unexcepted) == 0 && len(v.Stale) == 0 }

func (v verdict) print(w io.Writer) {
	for _, x := range v.Unexcepted {
		fixed := x.Fixed
		if fixed == "" {
			fixed = "no fixed version"
		}
		fmt.Fprintf(w, "CALLED %s in %s (fixed in: %s): %s\n", x.ID, x.Module, fixed, x.Summary)
	}
	for _, x := range v.Excepted {
		fmt.Fprintf(w, "excepted %s in %s: %s\n    why: %s\n", x.ID, x.Module, x.Summary, v.exceptionText[x.ID])
	}
	for _, id := range v.Stale {
		fmt.Fprintf(w, "STALE exception %s: no longer called; remove it from exceptions.txt\n", id)
	}
	fmt.Fprintf(w, "vulncheck (%s): %d called outside the exceptions file, %d called and excepted, %d stale exceptions, %d more in imported packages or required modules that the code does not call\n",
		v.GoVersion, len(v.Unexcepted), len(v.Excepted), len(v.Stale), v.NotCalled)
}

// scan runs the pinned govulncheck on the shipped toolchain and returns its
// JSON stream. In JSON mode govulncheck exits 0 whatever it finds.
func scan(ctx context.Context, db, toolchain string) ([]byte, error) {
	return goOutput(ctx, []string{"GOTOOLCHAIN=" + toolchain}, "run", govulncheckPkg, "-db", "file://"+db, "-format", "json", "./...")
}

// goOutput runs the go command with args (and env added to this process's)
// and returns what it prints; its errors go to this process's stderr.
func goOutput(ctx context.Context, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// database returns the folder of the govulncheck database built from vulndb
// at version, building it once per version.
func database(ctx context.Context, version string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, "idvflow-vulndb", version)
	if _, err := os.Stat(filepath.Join(out, "index", "db.json")); err == nil {
		return out, nil
	}
	src, err := moduleDir(ctx, vulndbModule+"@"+version)
	if err != nil {
		return "", err
	}
	repo, err := os.MkdirTemp("", "vulndb-repo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(repo)
	if err := os.CopyFS(filepath.Join(repo, "data", "osv"), os.DirFS(filepath.Join(src, "data", "osv"))); err != nil {
		return "", fmt.Errorf("copy vulndb's data/osv: %w", err)
	}
	// gendb reads a git repository, not a folder.
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=vulncheck", "-c", "user.email=vulncheck@localhost", "commit", "-q", "-m", "vulndb " + version},
	} {
		if err := runIn(ctx, repo, "git", args...); err != nil {
			return "", err
		}
	}
	tmp := out + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if err := runIn(ctx, ".", "go", "run", vulndbModule+"/cmd/gendb@"+version, "-repo", repo, "-out", tmp); err != nil {
		return "", err
	}
	os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	return out, nil
}

// moduleDir downloads a module through the Go module proxy and returns its folder.
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	b, err := goOutput(ctx, nil, "mod", "download", "-json", modVersion)
	if err != nil {
		return "", err
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(b, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no folder in its answer", modVersion)
	}
	return m.Dir, nil
}

func latestVulndb(ctx context.Context) (string, error) {
	b, err := goOutput(ctx, nil, "list", "-m", "-json", vulndbModule+"@latest")
	if err != nil {
		return "", fmt.Errorf("find the newest %s: %w", vulndbModule, err)
	}
	var m struct{ Version string }
	if err := json.Unmarshal(b, &m); err != nil || m.Version == "" {
		return "", fmt.Errorf("find the newest %s: no version in the answer", vulndbModule)
	}
	return m.Version, nil
}

// showNewEntries prints the OSV entries that the newer vulndb adds or
// changes for a module in idvflow's build list or for the standard library:
// what the maintainer reads before the check's verdict.
func showNewEntries(ctx context.Context, out io.Writer, from, to string) error {
	oldDir, err := moduleDir(ctx, vulndbModule+"@"+from)
	if err != nil {
		return err
	}
	newDir, err := moduleDir(ctx, vulndbModule+"@"+to)
	if err != nil {
		return err
	}
	b, err := goOutput(ctx, nil, "list", "-m", "-f", "{{.Path}}", "all")
	if err != nil {
		return err
	}
	mods := map[string]bool{"stdlib": true, "toolchain": true}
	for _, m := range strings.Fields(string(b)) {
		mods[m] = true
	}
	changed, err := changedEntries(filepath.Join(oldDir, "data", "osv"), filepath.Join(newDir, "data", "osv"), mods)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "vulndb %s → %s: %d entries added or changed for modules idvflow requires\n", from, to, len(changed))
	for _, c := range changed {
		fmt.Fprintln(out, "  "+c)
	}
	return nil
}

// changedEntries compares two data/osv folders and describes every entry
// that is new or modified and names one of mods.
func changedEntries(oldDir, newDir string, mods map[string]bool) ([]string, error) {
	files, err := os.ReadDir(newDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		nb, err := os.ReadFile(filepath.Join(newDir, f.Name()))
		if err != nil {
			return nil, err
		}
		ob, oerr := os.ReadFile(filepath.Join(oldDir, f.Name()))
		if oerr == nil && bytes.Equal(ob, nb) {
			continue
		}
		var e struct {
			ID       string `json:"id"`
			Summary  string `json:"summary"`
			Affected []struct {
				Package struct {
					Name string `json:"name"`
				} `json:"package"`
			} `json:"affected"`
		}
		if err := json.Unmarshal(nb, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
		for _, a := range e.Affected {
			if mods[a.Package.Name] {
				what := "new"
				if oerr == nil {
					what = "changed"
				}
				out = append(out, fmt.Sprintf("%s %s (%s): %s", what, e.ID, a.Package.Name, e.Summary))
				break
			}
		}
	}
	return out, nil
}

func runIn(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return nil
}
