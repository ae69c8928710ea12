package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestReleaseIsTheChangelogsNewest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Release names the newest released version (## [X.Y.Z] - date) while
	// nothing waits under [Unreleased]; once something does, the code is
	// past that release and Release says so ("X.Y.Z-dev", the next one).
	text := string(b)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("CHANGELOG.md has no released version (## [X.Y.Z] - YYYY-MM-DD)")
	}
	unreleased := ""
	if i := strings.Index(text, "## [Unreleased]"); i >= 0 {
		rest := text[i+len("## [Unreleased]"):]
		if j := strings.Index(rest, "\n## ["); j >= 0 {
			rest = rest[:j]
		}
		unreleased = strings.TrimSpace(rest)
	}
	switch {
	case unreleased == "" && Release != m[1]:
		t.Errorf("CHANGELOG.md's newest release is %s and nothing is unreleased, but version.Release is %s", m[1], Release)
	case unreleased != "" && (!strings.HasSuffix(Release, "-dev") || Release <= m[1]):
		t.Errorf("CHANGELOG.md has unreleased changes after %s, but version.Release is %s (want the next version, -dev)", m[1], Release)
	}
}

func TestAsked(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-version"}, true},
		{[]string{"--version"}, true},
		{[]string{"healthcheck"}, false},
		{[]string{"veriff", "-version"}, false}, // a subcommand's own flag
	} {
		if got := asked(tt.args); got != tt.want {
			t.Errorf("asked(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

// Every binary of the module answers -version with the release and the
// revision it was built from, as `go build -buildvcs=true` (deploy/build.sh)
// stamps it.
func TestEveryBinaryAnswersVersionWithItsRevision(t *testing.T) {
	root := filepath.Join("..", "..")
	rev := headRevision(t, root)
	mains, err := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "github.com/idvflow/idvflow/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	pkgs := strings.Fields(string(mains))
	if len(pkgs) < 8 {
		t.Fatalf("found %d main packages: %q", len(pkgs), pkgs)
	}
	bin := t.TempDir()
	build := exec.Command("go", append([]string{"build", "-buildvcs=true", "-o", bin + string(os.PathSeparator)}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, pkg := range pkgs {
		name := filepath.Base(pkg)
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, name), "-version")
			cmd.Dir = t.TempDir() // outside the checkout: the stamp alone must say it
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s -version: %v\n%s", name, err, out)
			}
			line := string(out)
			for _, want := range []string{name + ": idvflow " + Release, "revision " + rev} {
				if !strings.Contains(line, want) {
					t.Errorf("%s -version printed %q, want it to contain %q", name, line, want)
				}
			}
		})
	}
}

func TestAGoRunBinaryReadsTheRevisionFromTheCheckout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	head := headRevision(t, root)
	t.Chdir(root)
	// A test binary carries no VCS stamp, as a `go run` binary does not.
	info := Get()
	if info.Revision != head || !info.FromCheck {
		t.Errorf("Get() = %+v, want revision %s read from the checkout", info, head)
	}
	if s := info.String(); !strings.Contains(s, "read from the git checkout") {
		t.Errorf("String() = %q does not say where the revision came from", s)
	}
}

// headRevision is the revision of the clone the tests run in.
func headRevision(t *testing.T, root string) string {
	t.Helper()
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD (the tests run in a clone): %v", err)
	}
	return strings.TrimSpace(string(head))
}
