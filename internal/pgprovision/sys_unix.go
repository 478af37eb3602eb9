//go:build unix

package pgprovision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const lockPollInterval = 100 * time.Millisecond

// sysProcAttr runs a child as the account when switching users, with no supplementary groups.
func (a account) sysProcAttr() *syscall.SysProcAttr {
	if !a.switchTo {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: []uint32{}}}
}

// checkReachable fails, naming the first obstacle, if the account cannot pass through every
// directory from / down to dir (execute permission by owner, primary group or others; ACLs
// are not consulted). Without it, initdb fails later with a less helpful message.
func (a account) checkReachable(dir string) error {
	if !a.switchTo {
		return nil
	}
	for _, d := range ancestors(dir) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && !canSearch(st, a) {
			return fmt.Errorf("system user %s cannot enter %s (mode %s, owner uid %d): choose a "+
				"data directory it can reach, or run dotmac as a non-root user", a.name, d, fi.Mode(), st.Uid)
		}
	}
	return nil
}

func canSearch(st *syscall.Stat_t, a account) bool {
	switch {
	case st.Uid == a.uid:
		return st.Mode&0o100 != 0
	case st.Gid == a.gid:
		return st.Mode&0o010 != 0
	default:
		return st.Mode&0o001 != 0
	}
}

// ancestors returns the absolute directory dir and its parents, from / down.
func ancestors(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		out = append([]string{d}, out...)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

// lockFile takes an exclusive flock on path (creating it), polling until ctx is done. The
// returned func releases it. flock excludes other processes and other opens in this one.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) // #nosec G304 -- path is under DataDir
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	fd := int(f.Fd()) // #nosec G115 -- file descriptors are small
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
}

// processAlive reports whether a process with this pid exists (possibly owned by another
// user). pid must be positive: kill(0 or -n) would address process groups.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
