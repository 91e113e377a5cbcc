package wardentest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RedisServer is a real redis-server on 127.0.0.1, for tests of what a
// fleet of replicas shares through Redis, such as a DPoP replay store:
// those must meet the real server, its atomicity and its outages.
type RedisServer struct {
	// Addr is the server's host:port.
	Addr string
	tb   testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
}

// StartRedis starts redis-server (the Debian package redis-server) on a
// free loopback port, without persistence, and stops it when the test ends.
// Without the redis-server binary the test fails when the environment
// variable CI is "true" and is skipped, with a message saying so,
// otherwise.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server not found under CI: %v", err)
		}
		tb.Skip("redis-server is not installed (apt-get install redis-server); these tests need a real one")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &RedisServer{tb: tb, bin: bin, port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Start starts the server again on the same address after Stop, and waits
// until it answers PING: an outage of Redis, ended.
func (s *RedisServer) Start() {
	s.tb.Helper()
	s.cmd = exec.Command(s.bin, "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--loglevel", "warning", "--dir", s.tb.TempDir())
	var out bytes.Buffer // redis-server's own log, shown only if it fails to start
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if redisPing(s.Addr) {
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.tb.Fatalf("redis-server on %s did not answer PING within 10 s:\n%s", s.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit: an outage of Redis. All
// it held is lost, as when a Redis without persistence restarts.
func (s *RedisServer) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// redisPing reports whether a Redis server answers PING at addr.
func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
