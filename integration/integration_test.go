package integration_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/integration"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/integration-events.md")

// sample is one simulated domain event with the metadata it was recorded with.
type sample struct {
	event domain.Event
	meta  integration.Meta
}

// simulate runs a small, reproducible simulation (every kind of activity) and returns its
// events in feed order, with ids, positions and times as a store would give them.
func simulate(t *testing.T) []sample {
	t.Helper()
	var out []sample
	sink := sinkFunc(func(cmd domainsim.Command) ([]domain.Event, error) {
		evs, err := cmd.Decide()
		for _, e := range evs {
			n := len(out) + 1
			out = append(out, sample{event: e, meta: integration.Meta{
				ID:     fmt.Sprintf("01936c1e-8a00-7000-8000-%012d", n),
				Tenant: cmd.Tenant.String(), Position: eventstore.Position(n), //nolint:gosec // small
				Time: cmd.At.Add(150 * time.Millisecond),
			}})
		}
		return evs, err
	})
	stats, err := domainsim.Run(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "demo", Currency: "USD"}},
		Customers: 12, Months: 3, Start: must(domain.ParsePeriod("2026-01")), Seed: 7, GraceDays: 14}, sink)
	require.NoError(t, err)
	require.Empty(t, stats.Missing())
	return out
}

type sinkFunc func(domainsim.Command) ([]domain.Event, error)

func (f sinkFunc) Record(c domainsim.Command) ([]domain.Event, error) { return f(c) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// firstOfEach returns the first sample of every domain event type, in domain.AllEvents order.
func firstOfEach(t *testing.T, samples []sample) []sample {
	t.Helper()
	var out []sample
	for _, e := range domain.AllEvents() {
		i := slices.IndexFunc(samples, func(s sample) bool { return s.event.EventType() == e.EventType() })
		if i < 0 {
			t.Fatalf("the simulation made no %s", e.EventType())
		}
		out = append(out, samples[i])
	}
	return out
}

var publicTypePattern = regexp.MustCompile(`^(billing|customers|services|catalog)\.[a-z]+(_[a-z]+)*$`)

// Every registered domain event type has a mapping with a unique public type in the
// framework's naming, and maps without error.
func TestEveryEventTypeIsMapped(t *testing.T) {
	seen := map[string]string{}
	for _, s := range firstOfEach(t, simulate(t)) {
		name := s.event.EventType()
		pt := integration.PublicType(name)
		if pt == "" {
			t.Errorf("%s has no integration mapping (add it in integration/payload.go)", name)
			continue
		}
		assert.Regexp(t, publicTypePattern, pt, name)
		if other, dup := seen[pt]; dup {
			t.Errorf("%s and %s both map to %s", name, other, pt)
		}
		seen[pt] = name
		ev, err := integration.Map(s.event, s.meta)
		require.NoError(t, err, name)
		assert.Equal(t, pt, ev.Type)
	}
	assert.Len(t, integration.PublicTypes(), len(domain.AllEvents()))
	_, err := integration.Map(unmapped{}, integration.Meta{})
	require.ErrorIs(t, err, integration.ErrNotMapped)
	_, err = integration.Map(domain.InvoiceIssuedHead{}, integration.Meta{})
	require.ErrorIs(t, err, integration.ErrNotMapped, "a trimmed InvoiceIssued is not published without its lines")
}

type unmapped struct{}

func (unmapped) EventType() string  { return "Unmapped" }
func (unmapped) SchemaVersion() int { return 1 }

// internalKeys are names of the stored form that must never appear in a public payload.
var internalKeys = []string{"hash", "prev_hash", "actor", "correlation_id", "causation_id", "command_id",
	"idempotency_key", "request_id", "stream_id", "version", "schema_version", "metadata", "tenant_id"}

// Every event of a simulated history maps to a CloudEvent with every required attribute, the
// extension attributes, a payload without internal fields, money as decimal strings with a
// currency, and a subject that is one of the payload's ids.
func TestEnvelopeHasTheCloudEventsAttributes(t *testing.T) {
	samples := simulate(t)
	require.Greater(t, len(samples), 250)
	for _, s := range samples {
		ev, err := integration.Map(s.event, s.meta)
		require.NoError(t, err)
		raw := must(json.Marshal(ev))
		var attrs map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &attrs))
		for _, a := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "tenant", "position", "data"} {
			assert.Contains(t, attrs, a)
		}
		for name := range attrs {
			// CloudEvents attribute names: lower-case ASCII letters and digits only.
			assert.Regexp(t, `^[a-z0-9]{1,20}$`, name)
		}
		assert.Equal(t, "1.0", ev.SpecVersion)
		assert.Equal(t, s.meta.ID, ev.ID)
		assert.Equal(t, "dotmac-ledger/demo", ev.Source)
		assert.Equal(t, "demo", ev.Tenant)
		assert.Equal(t, fmt.Sprint(uint64(s.meta.Position)), ev.Position)
		assert.Equal(t, integration.DataSchema(ev.Type, 1), ev.DataSchema)
		assert.True(t, ev.Time.Equal(s.meta.Time))
		var data map[string]any
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		walk(t, ev.Type, data, func(key string, v any) {
			assert.NotContains(t, internalKeys, key, "%s leaks %s", ev.Type, key)
			if m, ok := v.(map[string]any); ok && m["currency"] != nil && m["amount"] != nil {
				amount, isString := m["amount"].(string)
				assert.True(t, isString, "%s: %s is not a decimal string", ev.Type, key)
				assert.Regexp(t, `^-?\d+(\.\d+)?$`, amount)
			}
		})
		assert.True(t, hasValue(data, ev.Subject), "%s: subject %s is none of the payload's values", ev.Type, ev.Subject)
	}
}

func walk(t *testing.T, path string, v any, f func(key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			f(k, c)
			walk(t, path+"."+k, c, f)
		}
	case []any:
		for _, c := range x {
			walk(t, path, c, f)
		}
	}
}

func hasValue(data map[string]any, s string) bool {
	for _, v := range data {
		if v == s {
			return true
		}
	}
	return false
}

// A stored event maps through the codec: tenant from the stream, time from the metadata.
func TestFromEnvelope(t *testing.T) {
	s := firstOfEach(t, simulate(t))[5] // InvoiceIssued
	name, version, data, err := codec.EncodeEvent(s.event)
	require.NoError(t, err)
	issued, ok := s.event.(domain.InvoiceIssued)
	require.True(t, ok, "AllEvents order")
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	env := eventstore.Envelope{ID: uuid.Must(uuid.NewV7()), StreamID: domain.CustomerStream(must(domain.ParseTenantID("acme")), issued.CustomerID),
		Version: 4, Position: 1234, Type: name, SchemaVersion: version, Data: data,
		Metadata: eventstore.Metadata{TenantID: "acme", Actor: "portal", RecordedAt: at}}
	ev, err := integration.FromEnvelope(&env)
	require.NoError(t, err)
	assert.Equal(t, "billing.invoice_issued", ev.Type)
	assert.Equal(t, "acme", ev.Tenant)
	assert.Equal(t, "1234", ev.Position)
	assert.Equal(t, env.ID.String(), ev.ID)
	assert.Equal(t, issued.InvoiceID.String(), ev.Subject)
	assert.True(t, ev.Time.Equal(at))
	assert.NotContains(t, string(must(json.Marshal(ev))), "portal")

	env.StreamID = "not-a-ledger-stream"
	_, err = integration.FromEnvelope(&env)
	require.Error(t, err)
}

const (
	beginGenerated = "<!-- BEGIN GENERATED: go test ./integration -run TestDoc -update -->"
	endGenerated   = "<!-- END GENERATED -->"
)

// docs/integration-events.md lists every public type with an example generated here.
func TestDocListsEveryType(t *testing.T) {
	path := filepath.Join("..", "docs", "integration-events.md")
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	before, rest, ok := strings.Cut(string(doc), beginGenerated)
	require.True(t, ok, "%s has no line %s", path, beginGenerated)
	_, after, ok := strings.Cut(rest, endGenerated)
	require.True(t, ok, "%s has no line %s", path, endGenerated)
	want := before + beginGenerated + "\n" + generated(t) + endGenerated + after
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o600))
		return
	}
	if want != string(doc) {
		t.Fatalf("%s is out of date: run go test ./integration -run TestDoc -update", path)
	}
}

// generated renders the catalog of public types and one example of each.
func generated(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	examples := firstOfEach(t, simulate(t))
	b.WriteString("\n| public type | domain event | subject |\n| --- | --- | --- |\n")
	events := make([]integration.Event, len(examples))
	for i, s := range examples {
		ev, err := integration.Map(s.event, s.meta)
		require.NoError(t, err)
		events[i] = ev
		fmt.Fprintf(&b, "| [`%s`](#%s) | `%s` | `%s` |\n", ev.Type, strings.ReplaceAll(ev.Type, ".", ""), s.event.EventType(), subjectField(ev))
	}
	for i, ev := range events {
		pretty, err := json.MarshalIndent(ev, "", "  ")
		require.NoError(t, err)
		fmt.Fprintf(&b, "\n### %s\n\nFrom `%s`; subject: `%s`; dataschema `%s`.\n\n```json\n%s\n```\n",
			ev.Type, examples[i].event.EventType(), subjectField(ev), ev.DataSchema, pretty)
	}
	b.WriteString("\n")
	return b.String()
}

// subjectField names the payload field the subject is taken from.
func subjectField(ev integration.Event) string {
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return "?"
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// The id the event is about, before other ids that may carry the same value.
	slices.SortStableFunc(keys, func(a, b string) int {
		return strings.Compare(fmt.Sprint(reflect.TypeOf(data[a]) == nil), fmt.Sprint(reflect.TypeOf(data[b]) == nil))
	})
	for _, k := range keys {
		if data[k] == ev.Subject {
			return k
		}
	}
	return "?"
}
