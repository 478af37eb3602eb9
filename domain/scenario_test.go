package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// scenario is one given-events / when-command / then-events-or-error case.
type scenario[C any] struct {
	name    string
	given   []domain.Event
	when    C
	now     time.Time // zero means t0
	then    []domain.Event
	wantErr error // a sentinel (matched with errors.Is) or a typed error (matched field by field)
}

// runScenarios folds given, decides when, and checks the outcome; events a scenario expects
// must also fold on top of given.
func runScenarios[S, C any](t *testing.T, fold func([]domain.Event) (S, error),
	decide func(S, C, time.Time) ([]domain.Event, error), cases []scenario[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state, err := fold(tc.given)
			if err != nil {
				t.Fatalf("given does not fold: %v", err)
			}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			got, err := decide(state, tc.when, now)
			if tc.wantErr != nil {
				assertError(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			assertEvents(t, got, tc.then)
			if _, err := fold(append(append([]domain.Event{}, tc.given...), got...)); err != nil {
				t.Fatalf("then does not fold: %v", err)
			}
		})
	}
}

func assertEvents(t *testing.T, got, want []domain.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d:\n got: %+v\nwant: %+v", len(got), len(want), got, want)
	}
	for i := range want {
		if !equal(got[i], want[i]) {
			t.Errorf("event %d:\n got: %+v\nwant: %+v", i, got[i], want[i])
		}
	}
}
