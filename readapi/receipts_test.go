package readapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/readapi"
)

// The fixture's unallocated receipt is listed (unallocated, not allocated), read by id, and
// nothing of it shows to another tenant.
func TestReceiptEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "payments:read")
	want := readapi.Receipt{ReceiptID: id(502), Amount: usd("25.00"), Method: "mobile_money", ExternalReference: "mpesa:QK502",
		AccountReference: "ACME 0009", Payer: "2547****126", Reason: "unknown_customer", ReceivedAt: "2026-03-11T08:01:00Z",
		RecordedAt: "2026-03-11T09:01:00Z", Status: "unallocated"}
	got := decode[page[readapi.Receipt]](t, e.ok(tok, "/v1/receipts?status=unallocated"))
	require.Len(t, got.Items, 1)
	assert.Equal(t, want, got.Items[0])
	assert.Empty(t, decode[page[readapi.Receipt]](t, e.ok(tok, "/v1/receipts?status=allocated")).Items)
	assert.Equal(t, want, decode[readapi.Receipt](t, e.ok(tok, "/v1/receipts/"+id(502))))
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/receipts?status=lost").Status)
	globex := e.token("globex", "payments:read")
	assert.Empty(t, decode[page[readapi.Receipt]](t, e.ok(globex, "/v1/receipts")).Items)
	assert.Equal(t, http.StatusNotFound, e.get(globex, "/v1/receipts/"+id(502)).Status)
}
