//go:build race

package warden_test

// raceEnabled is true when the tests run under the race detector, which
// makes the heaviest tests feed less.
const raceEnabled = true
