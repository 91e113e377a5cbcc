package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisStore is the -redis replay store: a warden.Store speaking the Redis
// protocol (RESP) itself, with the one atomic command a proof needs,
// SET key 1 NX PX ms. The reference server is part of warden's core module,
// which must not depend on a Redis client; a service of your own uses the
// store/redis module (go-redis) instead.
type redisStore struct {
	addr   string
	prefix string
	mu     sync.Mutex
	idle   []*redisConn // a small pool of connections
}

type redisConn struct {
	net.Conn
	r *bufio.Reader
}

// redisTimeout bounds one command: a Redis that does not answer is down,
// and warden answers 503 rather than wait.
const redisTimeout = 2 * time.Second

// dialRedis returns the store on addr, after checking with PING that a
// Redis answers there: an address that cannot work is a start-up error.
func dialRedis(addr string) (*redisStore, error) {
	s := &redisStore{addr: addr, prefix: "warden:"}
	reply, err := s.do(context.Background(), "PING")
	if err != nil {
		return nil, err
	}
	if reply != "+PONG" {
		return nil, fmt.Errorf("PING answered %q", reply)
	}
	return s, nil
}

// Claim records key until expires; SET NX answers OK when it was absent
// and a nil reply when it was there.
func (s *redisStore) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return true, nil
	}
	ms := strconv.FormatInt((ttl + time.Millisecond - 1).Milliseconds(), 10)
	reply, err := s.do(ctx, "SET", s.prefix+key, "1", "NX", "PX", ms)
	switch {
	case err != nil:
		return false, err
	case reply == "+OK":
		return true, nil
	case reply == "$-1" || reply == "_":
		return false, nil
	}
	return false, fmt.Errorf("redis: SET answered %q", reply)
}

// Contains reports whether key is recorded.
func (s *redisStore) Contains(ctx context.Context, key string) (bool, error) {
	reply, err := s.do(ctx, "EXISTS", s.prefix+key)
	if err != nil {
		return false, err
	}
	return reply == ":1", nil
}

// Close closes the idle connections.
func (s *redisStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.idle {
		c.Close()
	}
	s.idle = nil
	return nil
}

// do sends one command and returns its reply line (a simple string, an
// integer, or "$-1" for nil). A connection that failed is dropped.
func (s *redisStore) do(ctx context.Context, args ...string) (string, error) {
	c, err := s.conn(ctx)
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(redisTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	line := ""
	if _, err = c.Write([]byte(b.String())); err == nil {
		line, err = c.r.ReadString('\n')
	}
	if err != nil {
		c.Close()
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		c.Close() // an error reply: do not reuse a connection in an unknown state
		return "", errors.New("redis: " + line[1:])
	}
	s.mu.Lock()
	if len(s.idle) < 16 {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	return line, nil
}

func (s *redisStore) conn(ctx context.Context) (*redisConn, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	d := net.Dialer{Timeout: redisTimeout}
	nc, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	return &redisConn{Conn: nc, r: bufio.NewReader(nc)}, nil
}
