package redis_test

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

// redisServer is a real redis-server on 127.0.0.1, started by the test.
type redisServer struct {
	tb   testing.TB
	bin  string
	port int
	addr string
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free loopback port and stops it when
// the test ends. Without redis-server the test fails under CI (CI=true),
// where .ci/run installs it, and is skipped with a message elsewhere.
func startRedis(tb testing.TB) *redisServer {
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
	s := &redisServer{tb: tb, bin: bin, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// start runs the server and waits until it answers PING.
func (s *redisServer) start() {
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
		if ping(s.addr) {
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			s.tb.Fatalf("redis-server on %s did not answer PING within 10 s:\n%s", s.addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (the process this test started) and waits for it.
func (s *redisServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// ping reports whether a Redis server answers PING at addr.
func ping(addr string) bool {
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
