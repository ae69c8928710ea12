// Package version says which build of idvflow a binary is: the release,
// the module version and the VCS revision, so that a log line, an incident
// note or a bug report can name the code that ran.
//
// Every binary answers -version (and --version) through ExitIfAsked, before
// it reads its configuration.
package version

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

// Release is the idvflow release this code is, as CHANGELOG.md names it;
// "X.Y.Z-dev" once changes wait under [Unreleased] for the next release.
const Release = "1.1.0-dev"

// Info is what a binary knows of its build.
type Info struct {
	Release   string // idvflow's release (Release)
	Module    string // the main module's version: a tag, a pseudo-version, or "(devel)"
	Revision  string // the VCS revision; "" when unknown
	Time      string // the revision's commit time, RFC 3339; "" when unknown
	Modified  bool   // the build had uncommitted changes
	FromCheck bool   // Revision was read from the checkout, not stamped into the binary
	GoVersion string
}

// Get reads the build information the go command stamps into a binary.
// `go build` stamps the revision (deploy/build.sh asks for it with
// -buildvcs=true); `go run` never does, so a binary without a stamp that
// runs inside a git checkout (`go run ./cmd/worker -version`) asks git
// for the checkout's revision, and says so.
func Get() Info {
	info := Info{Release: Release, Module: "(unknown)", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		info.Module = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.time":
				info.Time = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Revision == "" {
		info.Revision, info.Time, info.Modified = fromCheckout()
		info.FromCheck = info.Revision != ""
	}
	return info
}

// fromCheckout asks git for the revision of the checkout in the working
// directory; it answers "" when there is none (a copied binary, no git).
func fromCheckout() (rev, when string, modified bool) {
	out, err := exec.Command("git", "log", "-1", "--format=%H %cI").Output()
	if err != nil {
		return "", "", false
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", "", false
	}
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return f[0], f[1], err == nil && len(strings.TrimSpace(string(status))) > 0
}

// String is the one line -version prints.
func (i Info) String() string {
	rev := "revision unknown"
	if i.Revision != "" {
		rev = "revision " + i.Revision
		if i.Time != "" {
			rev += " (" + i.Time + ")"
		}
		if i.Modified {
			rev += ", with uncommitted changes"
		}
		if i.FromCheck {
			rev += ", read from the git checkout: `go run` stamps none"
		}
	}
	return fmt.Sprintf("idvflow %s, module %s, %s, %s", i.Release, i.Module, rev, i.GoVersion)
}

// ExitIfAsked prints name and the build's Info and exits 0 when the first
// argument is -version or --version.
func ExitIfAsked(name string) {
	if asked(os.Args[1:]) {
		Print(os.Stdout, name)
		os.Exit(0)
	}
}

// Print writes the -version line of the binary called name.
func Print(w io.Writer, name string) {
	fmt.Fprintf(w, "%s: %s\n", name, Get())
}

func asked(args []string) bool {
	return len(args) > 0 && (args[0] == "-version" || args[0] == "--version")
}
