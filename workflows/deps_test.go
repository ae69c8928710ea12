package workflows_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDatabaseDriver: the deterministic package links no database driver
// (it refers to the activities, whose store gets its drivers from the
// worker's wiring), so workflow code cannot reach a database by accident.
func TestNoDatabaseDriver(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, driver := range []string{"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/lib/pq", "github.com/mattn/go-sqlite3"} {
			if strings.HasPrefix(dep, driver) {
				t.Errorf("workflows depends on %s", dep)
			}
		}
	}
}
