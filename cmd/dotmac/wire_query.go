package main

import (
	"context"

	"github.com/gorilla/mux"
)

// queryRoutes returns the query API's routes.
func queryRoutes(_ context.Context, _ *system) (func(*mux.Router), error) {
	return nil, nil
}
