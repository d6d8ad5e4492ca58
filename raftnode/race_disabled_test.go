//go:build !race

package raftnode

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
