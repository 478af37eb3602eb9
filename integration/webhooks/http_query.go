package webhooks

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dotmac/ledger/internal/cursor"
	"github.com/dotmac/ledger/internal/httpx"
)

// Paging of the query routes, as the query API's other lists.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

var errBadCursor = errors.New("not a cursor this list gave; start again without it")

// cursors makes and reads the webhook lists' cursors (the list's name and filters are the
// scope, so a cursor of one list is refused by another).
var cursors = cursor.New("dotmac.webhooks.cursor")

func encodeCursor(list string, key []string) string { return cursors.Encode(list, key...) }

func decodeCursor(s, list string) ([]string, error) {
	key, err := cursors.Decode(s, list)
	if err != nil {
		return nil, errBadCursor
	}
	return key, nil
}

// page reads limit and cursor (and refuses other parameters than allowed).
func page(r *http.Request, list string, allowed ...string) (limit int, key []string, err error) {
	q := r.URL.Query()
	var fields []httpx.FieldError
	for name := range q {
		if name != "limit" && name != "cursor" && !slices.Contains(allowed, name) {
			fields = append(fields, httpx.FieldError{Field: name, Reason: "unknown query parameter"})
		}
	}
	limit = DefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			fields = append(fields, httpx.FieldError{Field: "limit", Reason: "want a whole number from 1 to 500"})
		}
		limit = n
	}
	if s := q.Get("cursor"); s != "" {
		if key, err = decodeCursor(s, list); err != nil {
			fields = append(fields, httpx.FieldError{Field: "cursor", Reason: err.Error()})
		}
	}
	if len(fields) > 0 {
		slices.SortFunc(fields, func(a, b httpx.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return 0, nil, httpx.BadRequest("invalid query parameters", fields...)
	}
	return limit, key, nil
}

// listBody is a page, as the query API's lists.
type listBody[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (s *Service) list(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, key, err := page(r, "endpoints")
	if err != nil {
		return err
	}
	var after *EndpointKey
	if key != nil {
		at, err := time.Parse(time.RFC3339Nano, key[0])
		if err != nil || len(key) != 2 {
			return httpx.BadRequest("invalid cursor", httpx.FieldError{Field: "cursor", Reason: errBadCursor.Error()})
		}
		after = &EndpointKey{CreatedAt: at}
		if err := after.ID.UnmarshalText([]byte(key[1])); err != nil {
			return httpx.BadRequest("invalid cursor", httpx.FieldError{Field: "cursor", Reason: errBadCursor.Error()})
		}
	}
	es, err := s.store.List(r.Context(), c.tenant, after, limit+1)
	if err != nil {
		return err
	}
	out := listBody[endpointBody]{Items: []endpointBody{}}
	for i, e := range es {
		if i == limit {
			cur := encodeCursor("endpoints", []string{es[i-1].CreatedAt.UTC().Format(time.RFC3339Nano), es[i-1].ID.String()})
			out.NextCursor = &cur
			break
		}
		out.Items = append(out.Items, bodyOf(e, ""))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, _, err := page(r, ""); err != nil {
		return err
	}
	e, err := s.store.Get(r.Context(), c.tenant, c.endpoint)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, bodyOf(e, ""))
	return nil
}

// deliveryBody is a delivery in the log.
type deliveryBody struct {
	ID             string        `json:"id"`
	EventID        string        `json:"event_id"`
	EventType      string        `json:"event_type"`
	Position       uint64        `json:"position"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *string       `json:"next_attempt_at"`
	ExpiresAt      string        `json:"expires_at"`
	LastStatusCode *int          `json:"last_status_code"`
	LastError      *string       `json:"last_error"`
	LastLatencyMS  *int          `json:"last_latency_ms"`
	DeliveredAt    *string       `json:"delivered_at"`
	CreatedAt      string        `json:"created_at"`
	AttemptLog     []attemptBody `json:"attempt_log"`
}

type attemptBody struct {
	N          int     `json:"n"`
	StartedAt  string  `json:"started_at"`
	LatencyMS  int     `json:"latency_ms"`
	StatusCode *int    `json:"status_code"`
	Error      *string `json:"error"`
}

func deliveryBodyOf(d Delivery) deliveryBody {
	b := deliveryBody{ID: d.ID.String(), EventID: d.EventID.String(), EventType: d.EventType, Position: uint64(d.Position),
		Status: d.Status, Attempts: d.Attempts, NextAttemptAt: instantOrNil(d.NextAttemptAt), ExpiresAt: instant(d.ExpiresAt),
		LastStatusCode: d.LastStatus, LastError: d.LastError, LastLatencyMS: d.LastLatencyMS, DeliveredAt: instantOrNil(d.DeliveredAt),
		CreatedAt: instant(d.CreatedAt), AttemptLog: []attemptBody{}}
	for _, a := range d.Log {
		b.AttemptLog = append(b.AttemptLog, attemptBody{N: a.N, StartedAt: instant(a.StartedAt), LatencyMS: a.LatencyMS,
			StatusCode: a.StatusCode, Error: a.Error})
	}
	return b
}

func (s *Service) deliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	status := r.URL.Query().Get("status")
	limit, key, err := page(r, "deliveries/"+c.endpoint.String()+"/"+status, "status")
	if err != nil {
		return err
	}
	if status != "" && !slices.Contains([]string{StatusPending, StatusDelivered, StatusFailed}, status) {
		return httpx.BadRequest("invalid query parameters", httpx.FieldError{Field: "status", Reason: "want pending, delivered or failed"})
	}
	var after *DeliveryKey
	if key != nil {
		seq, err := strconv.ParseInt(key[0], 10, 64)
		if err != nil {
			return httpx.BadRequest("invalid cursor", httpx.FieldError{Field: "cursor", Reason: errBadCursor.Error()})
		}
		after = &DeliveryKey{Seq: seq}
	}
	ds, keys, err := s.store.Deliveries(r.Context(), c.tenant, c.endpoint, status, after, limit+1)
	if err != nil {
		return err
	}
	out := listBody[deliveryBody]{Items: []deliveryBody{}}
	for i, d := range ds {
		if i == limit {
			cur := encodeCursor("deliveries/"+c.endpoint.String()+"/"+status, []string{strconv.FormatInt(keys[i-1].Seq, 10)})
			out.NextCursor = &cur
			break
		}
		out.Items = append(out.Items, deliveryBodyOf(d))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
