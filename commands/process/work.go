package process

import (
	"context"
	"errors"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// errStopping: the manager is stopping and starts no more handlers; the message is nacked and
// delivered again (to the next holder of its group, or after the next Start).
var errStopping = errors.New("process managers stopping")

// handlerWork counts the router's handlers running in this manager, so that Stop returns only
// once every one of them has returned. Watermill's router does not guarantee it: its Close gives
// up after its CloseTimeout, and a message its subscriber hands over while Close is waiting
// starts a handler Close no longer waits for. Once closed, handlerWork admits no more handlers.
type handlerWork struct {
	mu      sync.Mutex
	closing bool
	running sync.WaitGroup
}

// begin reports whether a handler may start; if so the caller must call end when it returns.
func (w *handlerWork) begin() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return false
	}
	w.running.Add(1)
	return true
}

func (w *handlerWork) end() { w.running.Done() }

// close admits no more handlers.
func (w *handlerWork) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
}

// wait returns once close was called and every handler admitted has returned.
func (w *handlerWork) wait() {
	w.close()
	w.running.Wait()
}

// loggedError is a handler's error the manager has logged already: Watermill's router, which
// logs it again after the handler returned (possibly after Stop), is told to stay quiet.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// track is the router's outermost middleware: every handler runs inside handlerWork, and its
// failure is logged here, while Stop still waits for it, rather than by the router afterwards.
func (m *Manager) track(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if !m.work.begin() {
			return nil, errStopping
		}
		defer m.work.end()
		out, err := h(msg)
		if err == nil {
			return out, nil
		}
		if !quietError(err) {
			m.log.Warn().Err(err).Str("handler_name", message.HandlerNameFromCtx(msg.Context())).Str("message_uuid", msg.UUID).
				Msg("process: handler failed; its message is delivered again")
		}
		return nil, loggedError{err}
	}
}

// quietError reports whether err is part of stopping, not worth a warning.
func quietError(err error) bool {
	var logged loggedError
	return errors.Is(err, context.Canceled) || errors.Is(err, ErrBusClosed) || errors.Is(err, errStopping) || errors.As(err, &logged)
}
