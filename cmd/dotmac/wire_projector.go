package main

import "context"

// startProjector starts the projectors; stop waits for them to finish their batch.
func startProjector(_ context.Context, _ *system) (stop func(), err error) {
	return func() {}, nil
}
