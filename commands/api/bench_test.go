package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// Shape of the payment benchmark.
const (
	benchClients   = 64   // concurrent HTTP clients
	benchCustomers = 1000 // accounts the payments are spread over
)

// BenchmarkRecordPaymentHTTP records payments through the real router and PostgreSQL over
// HTTP (loopback TCP) with 64 concurrent clients, each payment to one of 1000 customers. It
// reports commands/s and the p50/p99 latency. Compare with pgbench's single-row insert
// transactions at 64 clients (see the package's closing note):
//
//	go test -run '^$' -bench RecordPaymentHTTP -benchtime 20000x ./commands/api/
func BenchmarkRecordPaymentHTTP(b *testing.B) {
	e := newEnv(b)
	e.validate = false
	tenant, err := domain.ParseTenantID("bench")
	require.NoError(b, err)
	customers := benchAccounts(b, e.handlers, tenant)
	srv := httptest.NewServer(e.handler)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	tok := e.token("bench")
	body := []byte(`{"amount":{"amount":"1.00","currency":"USD"},"method":"card"}`)

	var next atomic.Int64
	latencies := make([][]time.Duration, benchClients)
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for c := range benchClients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				path := srv.URL + "/v1/customers/" + customers[i%benchCustomers] + "/payments"
				t0 := time.Now()
				if err := benchPost(client, path, tok, body); err != nil {
					b.Error(err)
					return
				}
				latencies[c] = append(latencies[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	b.StopTimer()
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/took.Seconds(), "commands/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// benchAccounts registers the benchmark's customers through the Go API.
func benchAccounts(b *testing.B, h *commands.Handlers, tenant domain.TenantID) []string {
	b.Helper()
	cur, err := domain.ParseCurrency("USD")
	require.NoError(b, err)
	out := make([]string, benchCustomers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, benchClients)
	for i := range out {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := h.RegisterCustomer(context.Background(), commands.Meta{Tenant: tenant, Actor: "bench"}, commands.RegisterCustomer{
				Contact: domain.Contact{Name: fmt.Sprintf("Customer %d", i), Email: "c@example.com", BillingAddress: "x"}, Currency: cur})
			if err != nil {
				b.Error(err)
				return
			}
			out[i] = res.ID
		})
	}
	wg.Wait()
	return out
}

func benchPost(client *http.Client, url, tok string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.NewString())
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}
