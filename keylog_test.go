package warden_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/wardentest"
)

// This file checks that the key set's log lines tell the truth: nothing
// from a New that fails (its error says it all, and nothing is served), one
// line per change of state and none per retry, and the recovery at Info.

// logLines records the records a logger writes at Info and above, and
// hands each to a channel as it comes.
type logLines struct {
	mu    sync.Mutex
	lines []string
	each  chan string
}

func newLogLines() *logLines { return &logLines{each: make(chan string, 64)} }

func (l *logLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *logLines) WithGroup(string) slog.Handler                 { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.each <- line
	return nil
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// await waits for the next line and requires it to be want.
func (l *logLines) await(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-l.each:
		if got != want {
			t.Fatalf("log line %q, want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no log line %q", want)
	}
}

// keyLogFixture is a Middleware over a wardentest issuer, on a clock the
// test moves, whose refreshes the test triggers one at a time.
type keyLogFixture struct {
	iss      *wardentest.Issuer
	mw       *warden.Middleware
	logs     *logLines
	refreshs chan error
	mu       sync.Mutex
	now      time.Time
}

func newKeyLogFixture(t *testing.T, failFirst, lazy bool) (*keyLogFixture, error) {
	t.Helper()
	f := &keyLogFixture{iss: wardentest.NewIssuer(t), logs: newLogLines(), refreshs: make(chan error, 64),
		now: time.Now()}
	f.iss.SetClock(f.clock)
	if failFirst {
		f.iss.FailJWKS(wardentest.Status500)
	}
	cfg := f.iss.Config()
	cfg.Now = f.clock
	cfg.Logger = slog.New(f.logs)
	cfg.KeySetPolicy = warden.KeySetPolicy{MaxStaleness: 4 * time.Hour, LazyStart: lazy,
		OnRefresh: func(r warden.KeyRefresh) { f.refreshs <- r.Err }}
	mw, err := warden.New(cfg)
	if err != nil {
		return f, err
	}
	t.Cleanup(func() { _ = mw.Close() })
	f.mw = mw
	return f, nil
}

func (f *keyLogFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// refresh moves the clock by d, makes a request (which starts the refresh
// that is due) and waits for the refresh to end.
func (f *keyLogFixture) refresh(t *testing.T, d time.Duration, wantErr bool) {
	t.Helper()
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
	_, _ = f.mw.Verify(context.Background(), f.iss.Scoped(""))
	select {
	case err := <-f.refreshs:
		if (err != nil) != wantErr {
			t.Fatalf("refresh error %v, want an error: %v", err, wantErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no refresh")
	}
}

// TestKeyLogNewFails: a New that fails logs nothing; its error says why.
func TestKeyLogNewFails(t *testing.T) {
	t.Parallel()
	f, err := newKeyLogFixture(t, true, false)
	var kfe *warden.KeyFetchError
	if !errors.As(err, &kfe) {
		t.Fatalf("New: %v, want a *KeyFetchError", err)
	}
	if lines := f.logs.all(); len(lines) != 0 {
		t.Errorf("a New that failed logged %q", lines)
	}
}

// TestKeyLogStates walks a key set through every state, with retries in
// each, and requires exactly one line per change.
func TestKeyLogStates(t *testing.T) {
	t.Parallel()
	f, err := newKeyLogFixture(t, false, false)
	if err != nil {
		t.Fatal(err)
	}
	<-f.refreshs // New's first fetch
	f.logs.await(t, "INFO warden: key set loaded")

	f.iss.FailJWKS(wardentest.Status500)
	f.refresh(t, 2*time.Hour, true) // the scheduled refresh fails
	f.logs.await(t, "WARN warden: key refresh failing; serving the last good key set")
	for range 3 {
		f.refresh(t, 10*time.Minute, true) // retries: no line
	}
	f.refresh(t, 2*time.Hour, true) // now past MaxStaleness
	f.logs.await(t, "ERROR warden: key set stale beyond MaxStaleness; requests get 503 until a refresh succeeds")
	f.refresh(t, 10*time.Minute, true)

	f.iss.FailJWKS(wardentest.Healthy)
	f.refresh(t, 10*time.Minute, false)
	f.logs.await(t, "INFO warden: key set refresh recovered")
	f.refresh(t, 2*time.Hour, false) // a routine refresh: no line

	_ = f.mw.Close() // waits for every refresh, and so for its line
	want := []string{
		"INFO warden: key set loaded",
		"WARN warden: key refresh failing; serving the last good key set",
		"ERROR warden: key set stale beyond MaxStaleness; requests get 503 until a refresh succeeds",
		"INFO warden: key set refresh recovered",
	}
	if got := f.logs.all(); !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", fmt.Sprintln(got), fmt.Sprintln(want))
	}
}

// TestKeyLogLazyStart: with LazyStart, requests do get 503 until keys
// arrive, and the log says so once, then the recovery at Info; a failure
// before any key set was fetched never claims to serve a last good one.
func TestKeyLogLazyStart(t *testing.T) {
	t.Parallel()
	f, err := newKeyLogFixture(t, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if e := <-f.refreshs; e == nil {
		t.Fatal("the first fetch succeeded")
	}
	f.logs.await(t, "ERROR warden: no key set fetched yet; requests get 503 until a refresh succeeds")
	f.refresh(t, 10*time.Minute, true)
	f.iss.FailJWKS(wardentest.Healthy)
	f.refresh(t, 10*time.Minute, false)
	f.logs.await(t, "INFO warden: key set refresh recovered")
	_ = f.mw.Close()
	want := []string{
		"ERROR warden: no key set fetched yet; requests get 503 until a refresh succeeds",
		"INFO warden: key set refresh recovered",
	}
	if got := f.logs.all(); !slices.Equal(got, want) {
		t.Errorf("log %q, want %q", got, want)
	}
}
