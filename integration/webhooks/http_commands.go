package webhooks

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/httpx"
)

// registration is the body of POST /v1/webhooks/endpoints.
type registration struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Secret      *string  `json:"secret"`
	Enabled     *bool    `json:"enabled"`
}

func (s *Service) register(w http.ResponseWriter, r *http.Request, c *call) error {
	var in registration
	if err := httpx.DecodeJSONBytes(c.body, &in); err != nil {
		return err
	}
	n := NewEndpoint{Tenant: c.tenant, Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled,
		IdempotencyKey: c.key, Secret: NewSecret()}
	if err := s.validateSettings(r, &in.URL, &in.Description, &in.EventTypes); err != nil {
		return err
	}
	n.URL, n.EventTypes = in.URL, in.EventTypes
	if in.Secret != nil {
		sec, err := ParseSecret(*in.Secret)
		if err != nil {
			return fieldErr{"secret", err}
		}
		n.Secret = sec
	}
	sum := sha256.Sum256(append([]byte(r.URL.Path+"\n"), c.body...))
	n.RequestHash = sum[:]
	e, secret, replayed, err := s.store.Create(r.Context(), n, s.cfg.Now(), s.events.Head)
	if err != nil {
		return err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", strings.Replace(PathEndpoint, "{endpoint_id}", e.ID.String(), 1))
	httpx.WriteJSON(w, http.StatusCreated, bodyOf(e, secret))
	return nil
}

// validateSettings checks the fields a registration or an update sets (nil: not set).
func (s *Service) validateSettings(r *http.Request, url, description *string, types *[]string) error {
	if url != nil {
		u, err := s.cfg.Guard.CheckURL(r.Context(), *url)
		if err != nil {
			return fieldErr{"url", err}
		}
		*url = u.String()
	}
	if description != nil && len(*description) > MaxDescriptionBytes {
		return fieldErr{"description", errors.New("at most 500 bytes")}
	}
	if types != nil {
		v, err := ValidateEventTypes(*types)
		if err != nil {
			return fieldErr{"event_types", err}
		}
		*types = v
	}
	return nil
}

// settings is the body of POST .../settings: the fields to change.
type settings struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	EventTypes  *[]string `json:"event_types"`
}

func (s *Service) update(w http.ResponseWriter, r *http.Request, c *call) error {
	var in settings
	if err := httpx.DecodeJSONBytes(c.body, &in); err != nil {
		return err
	}
	if err := s.validateSettings(r, in.URL, in.Description, in.EventTypes); err != nil {
		return err
	}
	e, err := s.store.Update(r.Context(), c.tenant, c.endpoint, Change{URL: in.URL, Description: in.Description, EventTypes: in.EventTypes}, s.cfg.Now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, bodyOf(e, ""))
	return nil
}

func (s *Service) setEnabled(on bool) func(w http.ResponseWriter, r *http.Request, c *call) error {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if err := httpx.DecodeJSONBytes(c.body, &struct{}{}); err != nil {
			return err
		}
		e, err := s.store.Update(r.Context(), c.tenant, c.endpoint, Change{Enabled: &on}, s.cfg.Now())
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, bodyOf(e, ""))
		return nil
	}
}

func (s *Service) rotate(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		Secret *string `json:"secret"`
	}
	if err := httpx.DecodeJSONBytes(c.body, &in); err != nil {
		return err
	}
	sec := NewSecret()
	if in.Secret != nil {
		var err error
		if sec, err = ParseSecret(*in.Secret); err != nil {
			return fieldErr{"secret", err}
		}
	}
	e, secret, err := s.store.Rotate(r.Context(), c.tenant, c.endpoint, sec, c.key, s.cfg.Now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, bodyOf(e, secret))
	return nil
}

func (s *Service) replayHTTP(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		FromPosition *uint64 `json:"from_position"`
	}
	if err := httpx.DecodeJSONBytes(c.body, &in); err != nil {
		return err
	}
	if in.FromPosition == nil {
		return fieldErr{"from_position", errors.New("required: replay the events after this global position (0: all)")}
	}
	res, err := s.Replay(r.Context(), c.tenant, c.endpoint, eventstore.Position(*in.FromPosition))
	if errors.Is(err, ErrReplayTooFar) {
		return fieldErr{"from_position", err}
	}
	if err != nil {
		return err
	}
	out := struct {
		Enqueued     int     `json:"enqueued"`
		NextPosition *uint64 `json:"next_position"`
	}{Enqueued: res.Enqueued}
	if res.Next != nil {
		n := uint64(*res.Next)
		out.NextPosition = &n
	}
	httpx.WriteJSON(w, http.StatusAccepted, out)
	return nil
}

func (s *Service) redeliver(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := httpx.DecodeJSONBytes(c.body, &struct{}{}); err != nil {
		return err
	}
	id, err := uuid.Parse(mux.Vars(r)["delivery_id"])
	if err != nil {
		return ErrNotFound
	}
	if err := s.store.Redeliver(r.Context(), c.tenant, c.endpoint, id, s.cfg.Now(), s.cfg.MaxAge); err != nil {
		return err
	}
	if _, err := s.pool.Exec(r.Context(), `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
