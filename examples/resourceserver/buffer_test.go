package main

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// syncBuffer is a goroutine-safe output that reports the "listening on"
// line and lets a test wait for a log line.
type syncBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string
	changed   chan struct{}
}

func newSyncBuffer() *syncBuffer {
	return &syncBuffer{listening: make(chan string, 1), changed: make(chan struct{}, 1)}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for _, l := range strings.Split(string(p), "\n") {
		if strings.HasPrefix(l, "listening on http") { // http:// or https://
			select {
			case b.listening <- l:
			default:
			}
		}
	}
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until s has been written: the access log line is written
// after the response, so it may trail the client by a moment.
func (b *syncBuffer) waitFor(s string) bool {
	deadline := time.After(5 * time.Second)
	for !strings.Contains(b.String(), s) {
		select {
		case <-b.changed:
		case <-deadline:
			return false
		}
	}
	return true
}
