//go:build unix

package pgprovision

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// assertOwnedByClusterUser checks that path belongs to the account the binaries run as: the
// postgres system user when the tests run as root, else the current user.
func assertOwnedByClusterUser(tb testing.TB, path string) {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	want := strconv.Itoa(os.Geteuid())
	if os.Geteuid() == 0 {
		u, err := user.Lookup(DefaultRunAsUser)
		if err != nil {
			tb.Fatal(err)
		}
		want = u.Uid
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if got := strconv.FormatUint(uint64(st.Uid), 10); !ok || got != want {
		tb.Fatalf("%s is owned by uid %s, want %s", path, got, want)
	}
}

// The reachability check names the first directory another user cannot pass through.
func TestCheckReachable(t *testing.T) {
	t.Parallel()
	stranger := account{name: "stranger", uid: 4242424, gid: 4242424, switchTo: true}
	closed := filepath.Join(reachableDir(t), "closed")
	inner := filepath.Join(closed, "postgres")
	if err := os.MkdirAll(inner, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	err := stranger.checkReachable(inner)
	if err == nil || !strings.Contains(err.Error(), "cannot enter "+closed+" ") {
		t.Fatalf("checkReachable = %v, want it to name %s", err, closed)
	}
	for _, d := range []string{closed, inner} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := stranger.checkReachable(inner); err != nil {
		t.Fatalf("checkReachable after chmod 0711: %v", err)
	}
}

// As root the cluster runs as the postgres system user, and a missing user is a clear error;
// as anyone else it runs as that user.
func TestChooseAccount(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		a, err := chooseAccount(DefaultRunAsUser)
		if err != nil || a.switchTo {
			t.Fatalf("chooseAccount as non-root = %+v, %v; want the current user", a, err)
		}
		return
	}
	if _, err := user.Lookup(DefaultRunAsUser); err == nil {
		a, err := chooseAccount(DefaultRunAsUser)
		if err != nil || !a.switchTo || a.uid == 0 || a.name != DefaultRunAsUser {
			t.Fatalf("chooseAccount as root = %+v, %v; want the postgres user", a, err)
		}
	}
	_, err := chooseAccount("no-such-user-pgprovision")
	if err == nil || !strings.Contains(err.Error(), "useradd --system no-such-user-pgprovision") {
		t.Fatalf("chooseAccount(missing) = %v, want advice to create the user", err)
	}
}
