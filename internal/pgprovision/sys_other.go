//go:build !unix

package pgprovision

import (
	"context"
	"errors"
	"syscall"
)

var errUnsupportedOS = errors.New("private PostgreSQL clusters need a Unix-like OS; set DATABASE_URL")

func (a account) sysProcAttr() *syscall.SysProcAttr { return nil }

func (a account) checkReachable(string) error { return nil }

func lockFile(context.Context, string) (func(), error) { return nil, errUnsupportedOS }

func processAlive(int) bool { return false }
