package main

import (
	"context"

	"github.com/gorilla/mux"
)

// commandRoutes returns the command API's routes.
func commandRoutes(_ context.Context, _ *system) (func(*mux.Router), error) {
	return nil, nil
}
