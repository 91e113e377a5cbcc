package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// startDemo runs the demo resource server binary at path on 127.0.0.1:0
// and returns its base URL, read from its "listening on URL" banner. Its
// access log (stderr) is discarded. stop ends the process.
func startDemo(ctx context.Context, path string) (stop func(), base string, err error) {
	cmd := exec.CommandContext(ctx, path, "-addr", "127.0.0.1:0")
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				found <- strings.TrimSpace(u)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out) // keep the pipe drained
		close(found)
	}()
	select {
	case u, ok := <-found:
		if ok {
			fmt.Printf("demo server: %s (pid %d)\n", u, cmd.Process.Pid)
			return stop, u, nil
		}
		stop()
		return nil, "", errors.New("demo server exited before listening")
	case <-time.After(30 * time.Second):
		stop()
		return nil, "", errors.New("demo server did not start within 30s")
	}
}

// fetchTokens gets n tokens from a token endpoint with the client
// credentials grant (RFC 6749 §4.4), conc requests at a time.
func fetchTokens(ctx context.Context, tokenURL, client string, n, conc int) ([]string, error) {
	id, secret, ok := strings.Cut(client, ":")
	if !ok {
		return nil, errors.New("-client must be client_id:secret")
	}
	t0 := time.Now()
	hc := &http.Client{Timeout: 10 * time.Second}
	tokens := make([]string, n)
	errs := make(chan error, conc)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				tok, err := fetchToken(ctx, hc, tokenURL, id, secret)
				if err != nil {
					errs <- err
					return
				}
				tokens[k] = tok
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	fmt.Printf("fetched %d tokens in %v\n", n, time.Since(t0).Round(time.Millisecond))
	return tokens, nil
}

func fetchToken(ctx context.Context, hc *http.Client, tokenURL, id, secret string) (string, error) {
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) // RFC 6749 §2.3.1
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: status %d", resp.StatusCode)
	}
	return tr.AccessToken, nil
}
