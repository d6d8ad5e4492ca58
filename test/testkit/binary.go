package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RunWithTokend is a TestMain body for the test/ packages that start tokend
// processes: it builds cmd/tokend (../../cmd/tokend from the package's
// directory) into a temporary directory, sets *bin to it, runs the tests
// and exits with their code. When the environment variable named by
// override is set (override may be ""), that binary is used instead.
func RunWithTokend(m *testing.M, bin *string, override string) {
	if path := os.Getenv(override); override != "" && path != "" {
		*bin = path
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "tokend-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "tokend")
	build := exec.Command("go", "build", "-o", *bin, "../../cmd/tokend")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tokend: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
