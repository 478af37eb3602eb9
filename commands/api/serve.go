package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// Response headers.
const (
	HeaderPosition       = "X-Ledger-Position"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// releaseTimeout bounds storing or releasing a key after the command.
const releaseTimeout = 5 * time.Second

// request is a validated request on its way to its command.
type request struct {
	api  *API
	vars map[string]string
	body []byte
}

// command runs a validated request's command with meta.
type command func(ctx context.Context, h *commands.Handlers, m commands.Meta) (*response, error)

// response is a command's answer; body is written as JSON.
type response struct {
	status   int
	location string
	result   commands.Result
	body     any
}

// endpoint serves rt (inside Authenticate and Require).
func (a *API) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.serve(w, r, rt); err != nil {
			httpx.WriteError(w, r, err, problemFor(rt, r))
		}
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	m, key, err := a.meta(r, rt)
	if err != nil {
		return err
	}
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	cmd, err := rt.prepare(&request{api: a, vars: mux.Vars(r), body: body})
	if err != nil {
		return err
	}
	hash := requestHash(r, body)
	if kr, ok := a.cfg.Handlers.RecordsKeys(); ok {
		stored, replayed, err := a.runKeyed(r.Context(), kr, rt, cmd, m, key, hash)
		if err != nil {
			return err
		}
		writeStored(w, stored, replayed)
		return nil
	}
	claim, err := a.cfg.Keys.Claim(r.Context(), m.Tenant, key, hash)
	if err != nil {
		return err
	}
	if claim.Replay != nil {
		writeStored(w, claim.Replay, true)
		return nil
	}
	m.CommandID, m.Recovering, m.LapsedClaim = claim.CommandID, claim.Recovering, claim.Recovering
	stored, err := a.run(r.Context(), cmd, m, key)
	if err != nil {
		return err
	}
	writeStored(w, stored, false)
	return nil
}

// run runs the command, detached from the client's cancellation, and stores its answer under
// the key; a failure releases the key.
func (a *API) run(ctx context.Context, cmd command, m commands.Meta, key string) (*commands.StoredResponse, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.CommandTimeout)
	defer cancel()
	resp, err := cmd(ctx, a.cfg.Handlers, m)
	if err == nil {
		var stored *commands.StoredResponse
		if stored, err = resp.render(); err == nil {
			a.storing.Add(1)
			a.completions.Go(func() {
				defer a.storing.Add(-1)
				a.complete(context.WithoutCancel(ctx), m, key, *stored)
			})
			return stored, nil
		}
	}
	after, done := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer done()
	if rerr := a.cfg.Keys.Release(after, m.Tenant, key, m.CommandID, definite(err)); rerr != nil {
		httpx.LoggerFrom(ctx).Warn().Err(rerr).Msg("could not release the idempotency key")
	}
	return nil, err
}

// previousKeys is implemented by idempotency keys that can say what a key held before the
// event store recorded keys with the events (pgstore.Keys.Previous).
type previousKeys interface {
	Previous(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (commands.Claim, bool, error)
}

// runKeyed runs a request whose key the event store records with the command's events
// (commands.Meta.Key): there is no claim before the command and nothing to store after it.
// The first command to record the key holds it; a request finding it held by another command
// (a retry, concurrent or later) answers as that command did, rebuilt from its events
// (replayKey). A command that appended nothing records the key with its answer, and so does
// one whose answer its events do not tell (route.storeAnswer). A refusal looks
// the key up first: the retry of a command that succeeded may be refused now that its effect
// is there (the payment's reference is a duplicate), and must answer as the first attempt did.
func (a *API) runKeyed(ctx context.Context, kr eventstore.KeyRecorder, rt route, cmd command, m commands.Meta, key string, hash [32]byte) (*commands.StoredResponse, bool, error) {
	if prev, ok := a.cfg.Keys.(previousKeys); ok {
		claim, found, err := prev.Previous(ctx, m.Tenant, key, hash)
		switch {
		case err != nil:
			return nil, false, err
		case found && claim.Replay != nil:
			return claim.Replay, true, nil
		case found:
			m.CommandID, m.Recovering, m.LapsedClaim = claim.CommandID, true, true
		}
	}
	if m.CommandID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, err
		}
		m.CommandID = id
	}
	m.Key = &eventstore.AppendKey{Scope: m.Tenant.String(), Key: key, Hash: hash, CommandID: m.CommandID}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.CommandTimeout)
	defer cancel()
	resp, err := cmd(ctx, a.cfg.Handlers, m)
	var taken *eventstore.KeyTakenError
	switch {
	case err == nil:
		stored, err := resp.render()
		if err != nil || (len(resp.result.Events) > 0 && !rt.storeAnswer) {
			return stored, false, err // the key went with the events
		}
		answer, err := json.Marshal(stored)
		if err != nil {
			return nil, false, err
		}
		held, recorded, err := kr.RecordKey(ctx, *m.Key, answer)
		switch {
		case err != nil && len(resp.result.Events) > 0:
			// The key went with the events: a retry rebuilds the answer from them, less what
			// only the stored answer tells (see route.storeAnswer). The command succeeded.
			httpx.LoggerFrom(ctx).Warn().Err(err).Msg("could not store the answer with its idempotency key")
			return stored, false, nil
		case err != nil || recorded || held.CommandID == m.CommandID:
			return stored, false, err
		}
		return a.replayKey(ctx, cmd, m, held)
	case errors.As(err, &taken):
		if held, ok := taken.Holder(m.Key.Scope, m.Key.Key); ok {
			return a.replayKey(ctx, cmd, m, held)
		}
	case definite(err):
		held, found, lerr := kr.LookupKey(ctx, m.Key.Scope, m.Key.Key)
		if lerr != nil {
			// Whether this refusal answers a retry of a command that succeeded is unknown:
			// the client is told to retry rather than that its command failed.
			return nil, false, lerr
		}
		if found && held.CommandID != m.CommandID {
			return a.replayKey(ctx, cmd, m, held)
		}
	}
	return nil, false, err
}

// replayKey answers a request whose key another command holds: with its recorded answer, or
// by running the request again as that command, recovering, which finds its events and
// renders the answer it gave (and finishes what a command that died half-way left undone).
// Another request under the key is *KeyReusedError.
func (a *API) replayKey(ctx context.Context, cmd command, m commands.Meta, held eventstore.StoredKey) (*commands.StoredResponse, bool, error) {
	if held.Hash != m.Key.Hash {
		return nil, false, &commands.KeyReusedError{Key: held.Key}
	}
	if held.Answer != nil {
		var stored commands.StoredResponse
		if err := json.Unmarshal(held.Answer, &stored); err != nil {
			return nil, false, fmt.Errorf("%w: the answer recorded with idempotency key %q does not decode: %w", domain.ErrInvariant, held.Key, err)
		}
		return &stored, true, nil
	}
	m.CommandID, m.Recovering, m.LapsedClaim = held.CommandID, true, true
	m.Applied = &commands.AppliedAt{Stream: held.Stream, Version: held.Version}
	k := *m.Key
	k.CommandID = held.CommandID
	m.Key = &k
	resp, err := cmd(ctx, a.cfg.Handlers, m)
	if err != nil {
		return nil, false, err
	}
	stored, err := resp.render()
	return stored, true, err
}

// complete stores a command's answer under its key. The events are durable already, so the
// answer goes out without waiting for this: a retry arriving first waits for the answer, and
// if it is never stored (the process died) the claim lapses and the retry recovers the answer
// from the command's own events.
func (a *API) complete(ctx context.Context, m commands.Meta, key string, stored commands.StoredResponse) {
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	if err := a.cfg.Keys.Complete(ctx, m.Tenant, key, m.CommandID, stored); err != nil {
		httpx.LoggerFrom(ctx).Warn().Err(err).Msg("could not store the response of an idempotency key")
	}
}

// WaitCompletions waits until the answers of the commands that ran are stored under their
// keys (a completion may wait a few milliseconds to share a statement, see pgstore), or ctx
// ends, and returns how many were still being stored then. A server calls it once its HTTP
// server has drained, before it closes the database: a completion cut off there is recovered
// by a retry from the command's own events, but only once its claim lapses.
func (a *API) WaitCompletions(ctx context.Context) int64 {
	done := make(chan struct{})
	go func() {
		a.completions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
		return a.storing.Load()
	}
}

// definite reports whether a failed command certainly appended nothing, so its key can be
// forgotten; after an unavailable store or an unknown error the append may have happened.
func definite(err error) bool {
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound) ||
		errors.Is(err, domain.ErrRejected) || errors.Is(err, commands.ErrConflict)
}

var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// meta reads who is calling (the principal), the Idempotency-Key and If-Match.
func (a *API) meta(r *http.Request, rt route) (commands.Meta, string, error) {
	p, ok := auth.From(r.Context())
	if !ok {
		return commands.Meta{}, "", httpx.Unauthorized("no principal")
	}
	tenant, err := domain.ParseTenantID(p.Tenant)
	if err != nil {
		return commands.Meta{}, "", httpx.Unauthorized("the token's tenant is invalid")
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if !idempotencyKeyPattern.MatchString(key) {
		return commands.Meta{}, "", httpx.BadRequest("every POST needs an Idempotency-Key header (1 to 255 visible ASCII characters, e.g. a UUID)",
			httpx.FieldError{Field: HeaderIdempotencyKey, Reason: "missing or malformed"})
	}
	info := httpx.InfoFrom(r.Context())
	m := commands.Meta{Tenant: tenant, Actor: p.Subject, CorrelationID: info.CorrelationID, CausationID: info.RequestID,
		RequestID: info.RequestID, IdempotencyKey: key}
	if rt.ifMatch {
		if m.ExpectedVersion, err = ifMatch(r); err != nil {
			return commands.Meta{}, "", err
		}
	}
	return m, key, nil
}

// ifMatch parses If-Match: "<version>" (the ETag of a stream version); absent or * is nil.
func ifMatch(r *http.Request) (*uint64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 63)
	if err != nil || !strings.HasSuffix(v, `"`) {
		return nil, httpx.BadRequest(`If-Match must be the ETag of a version, such as "3"`,
			httpx.FieldError{Field: "If-Match", Reason: "want a quoted stream version, such as \"3\""})
	}
	return &n, nil
}

// readBody reads the JSON body, size-limited (a request without a body reads as {}).
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 {
		return []byte("{}"), nil
	}
	var raw json.RawMessage
	if err := httpx.DecodeJSON(w, r, a.cfg.BodyLimit, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// requestHash identifies a request for its idempotency key: method, path and body.
func requestHash(r *http.Request, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// resultBody is the part of every success body that says where the command left the stream.
type resultBody struct {
	ID       string `json:"id"`
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`
}

func bodyOf(res commands.Result) resultBody {
	return resultBody{ID: res.ID, Version: res.Version, Position: uint64(res.Position)}
}

// reply is the response of a command that returned res and err: status with the result body
// and, when body is set, body instead (which embeds the result body).
func reply(res commands.Result, err error, status int, location string, body func(resultBody) any) (*response, error) {
	if err != nil {
		return nil, err
	}
	var b any = bodyOf(res)
	if body != nil {
		b = body(bodyOf(res))
	}
	return &response{status: status, location: location, result: res, body: b}, nil
}

// render turns the response into what is written and stored under the key.
func (resp *response) render() (*commands.StoredResponse, error) {
	body, err := json.Marshal(resp.body)
	if err != nil {
		return nil, err
	}
	h := map[string]string{
		"ETag":         `"` + strconv.FormatUint(resp.result.Version, 10) + `"`,
		HeaderPosition: strconv.FormatUint(uint64(resp.result.Position), 10),
	}
	if resp.location != "" {
		h["Location"] = resp.location
	}
	return &commands.StoredResponse{Status: resp.status, Headers: h, Body: append(body, '\n')}, nil
}

func writeStored(w http.ResponseWriter, s *commands.StoredResponse, replayed bool) {
	h := w.Header()
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	if replayed {
		h.Set(HeaderReplayed, "true")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(s.Status)
	_, _ = w.Write(s.Body) // #nosec G705 -- JSON this API rendered, sent as application/json
}
