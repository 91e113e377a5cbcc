package main

import (
	"context"
	"testing"
	"time"
)

// TestRunStops runs every scenario against the in-process server with a few
// requests: it must finish, and every response must be a 200.
func TestRunStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := config{n: 40, nNew: 10, conc: 4, rounds: 2, repeated: 2, public: "/public", protected: "/api", together: 100 * time.Millisecond}
	if err := run(ctx, cfg); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestRunRejectsBadConfig: nonsensical counts are refused before any work.
func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []config{{n: 0, conc: 1, rounds: 1, repeated: 1}, {n: 1, conc: 0, rounds: 1, repeated: 1}} {
		if err := run(context.Background(), cfg); err == nil {
			t.Errorf("run(%+v) = nil, want an error", cfg)
		}
	}
}
