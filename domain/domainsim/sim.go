package domainsim

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/domain"
)

// sim is one run of a simulation.
type sim struct {
	cfg     settings
	sink    Sink
	tenants []*tenant
	lanes   []*lane // every tenant's, in tenant then customer order
	month   int     // the month simulated now (0: Start); lanes read it
	done    atomic.Int64
}

// Run simulates cfg's tenants and customers, handing every command to sink (see Sink), and
// returns what was recorded. It stops at the first error: a Config that does not validate, or
// a command the sink could not record (wrapped with the command). The Stats returned with an
// error count what was recorded until then.
func Run(cfg Config, sink Sink) (Stats, error) {
	set, err := cfg.settings()
	if err != nil {
		return Stats{}, err
	}
	s := &sim{cfg: set, sink: sink}
	for i := range set.tenants {
		t := newTenant(set, i)
		t.rec.sink = sink
		for c := range set.customers {
			l := newLane(s, t, c)
			t.lanes = append(t.lanes, l)
			s.lanes = append(s.lanes, l)
		}
		s.tenants = append(s.tenants, t)
	}
	for m := 0; m <= set.months && err == nil; m++ {
		err = s.step(m)
	}
	return s.stats(), err
}

// step simulates month m: the catalog changes at its start, the billing run of the month
// before, then every customer's days (m == months: only the last billing run).
func (s *sim) step(m int) error {
	s.month = m
	p := s.cfg.period(m)
	at := p.Start().Time().Add(30 * time.Minute)
	if m == 0 {
		at = p.Start().Time().Add(-12 * time.Hour)
	}
	for _, t := range s.tenants {
		if err := t.catalogStep(m, s.cfg.months, at); err != nil {
			return err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	if m > 0 {
		if err := s.bill(s.cfg.period(m - 1)); err != nil {
			return err
		}
	}
	if m == s.cfg.months {
		return nil
	}
	if err := s.days(p); err != nil {
		return err
	}
	return s.flush()
}

// bill runs every tenant's billing run of period p at 02:00 on the day after it: the run
// starts, every customer with something to bill gets its invoice (customers at once), then
// the run records them and completes.
func (s *sim) bill(p domain.Period) error {
	at := p.End().Time().Add(2 * time.Hour)
	for _, t := range s.tenants {
		if err := t.startRun(p, at); err != nil {
			return err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.eachLane(func(l *lane) error { return l.bill(p, at) }); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	for _, t := range s.tenants {
		if err := t.finishRun(p, at); err != nil {
			return err
		}
	}
	return s.flush()
}

// days simulates every day of p for every customer: with one worker day by day (each day
// every customer in order), else each customer's whole month on a worker.
func (s *sim) days(p domain.Period) error {
	if s.cfg.workers > 1 {
		return s.eachLane(func(l *lane) error {
			for d := p.Start(); d.Before(p.End()); d = d.AddDays(1) {
				if err := l.day(d); err != nil {
					return err
				}
			}
			s.tick()
			return nil
		})
	}
	for d := p.Start(); d.Before(p.End()); d = d.AddDays(1) {
		for _, l := range s.lanes {
			if err := l.day(d); err != nil {
				return err
			}
		}
	}
	for range s.lanes {
		s.tick()
	}
	return nil
}

// tick reports one more customer-month done.
func (s *sim) tick() {
	s.cfg.progress(int(s.done.Add(1)), len(s.lanes)*s.cfg.months)
}

// eachLane runs f for every lane, cfg.workers at a time, and returns the first error (the
// lanes not started by then are skipped).
func (s *sim) eachLane(f func(*lane) error) error {
	if s.cfg.workers <= 1 {
		for _, l := range s.lanes {
			if err := f(l); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next   = make(chan *lane)
		wg     sync.WaitGroup
		once   sync.Once
		first  error
		failed atomic.Bool
	)
	for range s.cfg.workers {
		wg.Go(func() {
			for l := range next {
				if err := f(l); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
				}
			}
		})
	}
	for _, l := range s.lanes {
		if failed.Load() {
			break
		}
		next <- l
	}
	close(next)
	wg.Wait()
	return first
}

// flush lets a Flusher sink write what it holds.
func (s *sim) flush() error {
	f, ok := s.sink.(Flusher)
	if !ok {
		return nil
	}
	if err := f.Flush(); err != nil {
		return fmt.Errorf("flush the sink: %w", err)
	}
	return nil
}

// stats adds up every tenant's and lane's counts.
func (s *sim) stats() Stats {
	var out Stats
	out.init()
	for _, t := range s.tenants {
		out.add(t.rec.stats)
		for _, l := range t.lanes {
			out.add(l.rec.stats)
		}
	}
	return out
}
