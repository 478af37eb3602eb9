package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrURLRefused: an endpoint URL, or an address it resolves to, is not one deliveries may go
// to. The message says why.
var ErrURLRefused = errors.New("webhook URL refused")

// MaxURLBytes bounds an endpoint URL.
const MaxURLBytes = 2048

// refusedPrefixes are ranges no webhook may reach besides those netip classifies (loopback,
// private, link-local, multicast, unspecified): shared address space (CGNAT), "this network",
// IETF protocol assignments, benchmarking, reserved, and the IPv6 translation prefixes that
// embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible) and so could reach a private
// one, and the deprecated site-local IPv6 range.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("fec0::/10"),
}

// Guard decides which URLs and addresses webhooks may reach. In production (the zero Guard)
// only https URLs whose every address is public; AllowLoopback (development and tests) also
// allows http and loopback addresses, never private or link-local ones.
type Guard struct {
	AllowLoopback bool
	// LookupNetIP resolves a host name at registration (default net.DefaultResolver's).
	LookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL validates an endpoint URL at registration: its scheme, that it has no user
// information or fragment, and that every address its host resolves to is allowed. The
// dialer checks the address again on every connection (Control), since DNS can change.
func (g Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	if len(raw) > MaxURLBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrURLRefused, MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: not an absolute http(s) URL", ErrURLRefused)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && g.AllowLoopback:
	default:
		return nil, fmt.Errorf("%w: scheme %q: want https", ErrURLRefused, u.Scheme)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: user information and fragments are not allowed", ErrURLRefused)
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return u, g.CheckAddr(addr)
	}
	return u, g.checkHost(ctx, host)
}

// checkHost resolves a host name and checks each of its addresses.
func (g Guard) checkHost(ctx context.Context, host string) error {
	lower := strings.ToLower(strings.TrimSuffix(host, "."))
	if (lower == "localhost" || strings.HasSuffix(lower, ".localhost")) && !g.AllowLoopback {
		return fmt.Errorf("%w: %s is a loopback name", ErrURLRefused, host)
	}
	lookup := g.LookupNetIP
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	addrs, err := lookup(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("%w: %s does not resolve", ErrURLRefused, host)
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return fmt.Errorf("%s: %w", host, err)
		}
	}
	return nil
}

// CheckAddr reports whether deliveries may connect to addr.
func (g Guard) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	if addr.IsLoopback() {
		if g.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%w: %s is a loopback address", ErrURLRefused, addr)
	}
	switch {
	case !addr.IsValid(), addr.IsUnspecified():
		return fmt.Errorf("%w: %s is not a destination", ErrURLRefused, addr)
	case addr.IsPrivate():
		return fmt.Errorf("%w: %s is a private address", ErrURLRefused, addr)
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return fmt.Errorf("%w: %s is a link-local address", ErrURLRefused, addr)
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("%w: %s is a multicast address", ErrURLRefused, addr)
	}
	for _, p := range refusedPrefixes {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s is in the reserved range %s", ErrURLRefused, addr, p)
		}
	}
	if addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: %s is the broadcast address", ErrURLRefused, addr)
	}
	return nil
}

// Control is a net.Dialer Control function that refuses a connection to an address the guard
// does not allow: it sees the address actually dialled, after DNS resolution, so a name that
// resolved to a public address at registration and to a private one now (DNS rebinding) is
// refused.
func (g Guard) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse the dialled address %q", ErrURLRefused, address)
	}
	return g.CheckAddr(ap.Addr())
}
