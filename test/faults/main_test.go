package faults

import (
	"flag"
	"testing"

	"github.com/tokend/tokend/test/testkit"
)

// binPath is the tokend binary built once for the package, or the one
// TOKEND_FAULT_BINARY names (to test a given build).
var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	testkit.RunWithTokend(m, &binPath, "TOKEND_FAULT_BINARY")
}
