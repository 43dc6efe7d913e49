package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// motoFallback is where pyenv puts moto_server when PATH does not have it (as in some CI shells).
const motoFallback = "/root/.pyenv/shims/moto_server"

// Moto is a running moto_server: SSM, DynamoDB, ECR, STS and the rest of AWS in one process.
type Moto struct {
	*Server
}

// StartMoto starts a moto_server for this test alone and stops it when the test ends. It fails
// the test if moto_server cannot be found or started: tests against real implementations are
// never skipped.
func StartMoto(t testing.TB) *Moto {
	t.Helper()
	m, err := LaunchMoto()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// LaunchMoto starts a moto_server that runs until Close, for TestMain, benchmarks and tools.
func LaunchMoto() (*Moto, error) {
	bin, err := motoPath()
	if err != nil {
		return nil, err
	}
	s, err := launch("moto_server", bin,
		func(port int) []string { return []string{"-H", "127.0.0.1", "-p", strconv.Itoa(port)} },
		func(port int) string { return "Running on http://127.0.0.1:" + strconv.Itoa(port) })
	if err != nil {
		return nil, err
	}
	return &Moto{Server: s}, nil
}

// MotoPath returns the moto_server executable the tests use.
func MotoPath() (string, error) { return motoPath() }

func motoPath() (string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(motoFallback); err == nil {
		return p, nil
	}
	return "", errors.New("moto_server not found on PATH or at " + motoFallback +
		`: install it with pip install "moto[server]"`)
}

// Reset empties the server of everything every test has created in it. Only use it on a
// server of the test's own (StartMoto): on a shared one it pulls the ground from under other tests.
func (m *Moto) Reset(t testing.TB) {
	t.Helper()
	if err := m.reset(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (m *Moto) reset(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s: %s", resp.Status, body)
	}
	return nil
}
