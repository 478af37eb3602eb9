package commands

// Waiting returns how many commands wait in stream's queue of h (for tests that make a batch).
func Waiting(h *Handlers, stream string) int {
	h.locks.mu.Lock()
	l := h.locks.locks[stream]
	h.locks.mu.Unlock()
	if l == nil {
		return 0
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.waiting)
}

// Streams returns how many streams have an entry in h's stream locks (entries live only while
// a command of the stream runs or waits).
func Streams(h *Handlers) int {
	h.locks.mu.Lock()
	defer h.locks.mu.Unlock()
	return len(h.locks.locks)
}

// SetGroupReadEvents sets how many events each read of a billing group asks for.
func SetGroupReadEvents(h *Handlers, n int) { h.groupReadEvents = n }
