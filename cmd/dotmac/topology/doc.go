// Package topology holds the topology test of `make test-scale` (build tag scale): PostgreSQL
// primary and a streaming replica, and DotMac as separate command, projector and query
// processes, all plain processes on this machine. See topology_test.go.
package topology
