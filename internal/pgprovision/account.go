package pgprovision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// account is the OS user the PostgreSQL programs of a private cluster run as.
type account struct {
	name     string
	uid, gid uint32
	// switchTo is true when dotmac runs as root: PostgreSQL refuses to run as root, so the
	// programs are started with this account's uid and gid (and no supplementary groups), and
	// the directories they write are chowned to it.
	switchTo bool
}

// chooseAccount returns the current user when it is not root, else the system user runAs.
func chooseAccount(runAs string) (account, error) {
	if os.Geteuid() != 0 {
		return currentAccount(), nil
	}
	u, err := user.Lookup(runAs)
	if err != nil {
		return account{}, fmt.Errorf("dotmac runs as root, which PostgreSQL refuses, and there is no "+
			"system user %q to run it as (create one with `useradd --system %s`, or run dotmac as a "+
			"non-root user): %w", runAs, runAs, err)
	}
	uid, uidErr := strconv.ParseUint(u.Uid, 10, 32)
	gid, gidErr := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(uidErr, gidErr); err != nil {
		return account{}, fmt.Errorf("system user %q has a non-numeric uid or gid: %w", runAs, err)
	}
	if uid == 0 {
		return account{}, fmt.Errorf("system user %q is root, which PostgreSQL refuses to run as", runAs)
	}
	return account{name: u.Username, uid: uint32(uid), gid: uint32(gid), switchTo: true}, nil
}

func currentAccount() account {
	name := strconv.Itoa(os.Geteuid())
	if cur, err := user.Current(); err == nil {
		name = cur.Username
	}
	return account{name: name}
}

// dirMode is the mode of the directories above PGDATA that dotmac creates: when switching
// users, the other account only needs to pass through them.
func (a account) dirMode() fs.FileMode {
	if a.switchTo {
		return 0o711
	}
	return 0o750
}

// chown gives path to the account when switching users; otherwise it is a no-op.
func (a account) chown(path string) error {
	if !a.switchTo {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, a.name, err)
	}
	return nil
}

// mkdirAll creates dir and its missing parents with the account's dirMode, regardless of
// the umask, and leaves existing directories alone.
func (a account) mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := a.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, a.dirMode()); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, a.dirMode()); err != nil {
		return fmt.Errorf("set the mode of %s: %w", dir, err)
	}
	return nil
}

// createOwned creates path (mode perm) if missing and gives it to the account.
func (a account) createOwned(path string, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, perm) // #nosec G304 -- path is under DataDir
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return a.chown(path)
}
