package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/internal/auth"
)

// keyFlags configure the JWT key and what tokens must say.
type keyFlags struct {
	secret     string
	publicKey  string
	production bool
	mustExist  bool // the development key is read, never created
	policy     auth.Policy
}

func (k *keyFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	stringFlag(fs, &k.secret, "jwt-secret", "DOTMAC_JWT_SECRET", "", "HS256 shared secret (at least 32 bytes)")
	stringFlag(fs, &k.publicKey, "jwt-public-key", "DOTMAC_JWT_PUBLIC_KEY", "", "RS256 public key: PEM text or a file path (a private key also lets dotmac token sign)")
	stringFlag(fs, &k.policy.Issuer, "jwt-issuer", "DOTMAC_JWT_ISSUER", auth.DefaultIssuer, "the iss tokens are minted with and must carry")
	stringFlag(fs, &k.policy.Audience, "jwt-audience", "DOTMAC_JWT_AUDIENCE", auth.DefaultAudience, "the aud tokens are minted for and must name")
	durationFlag(fs, &k.policy.MaxLifetime, "jwt-max-lifetime", "DOTMAC_JWT_MAX_LIFETIME", auth.DefaultMaxLifetime,
		"the longest a token may be valid (exp - iat); longer ones are refused")
	durationFlag(fs, &k.policy.OperatorMaxLifetime, "jwt-operator-max-lifetime", "DOTMAC_JWT_OPERATOR_MAX_LIFETIME", 0,
		"the longest an operator token may be valid, at most --jwt-max-lifetime (default 1h, or --jwt-max-lifetime if shorter)")
}

func (k *keyFlags) load(g *globalFlags) (*auth.Key, auth.KeySource, error) {
	return auth.LoadKey(auth.KeyConfig{Secret: k.secret, PublicKey: k.publicKey, Production: k.production,
		DevKeyFile: devKeyFile(g), DevKeyMustExist: k.mustExist, Policy: k.policy})
}

func devKeyFile(g *globalFlags) string { return filepath.Join(g.dataDir.path, "dev-jwt-secret") }

// loadForToken loads the key dotmac token signs with: the configured one, else the development
// key serve created, never a new one (a token the server would reject).
func (k *keyFlags) loadForToken(g *globalFlags) (*auth.Key, error) {
	k.mustExist = true
	key, _, err := k.load(g)
	if errors.Is(err, auth.ErrNoDevKey) {
		path, _ := filepath.Abs(devKeyFile(g))
		return nil, fmt.Errorf("no development key at %s (data dir chosen by %s): start `dotmac serve` with the same data dir to create it, "+
			"or point elsewhere with --data-dir or DOTMAC_DATA_DIR, or set DOTMAC_JWT_SECRET", path, g.dataDir.rule)
	}
	return key, err
}

// tokenFlags are what dotmac token mints.
type tokenFlags struct {
	tenant, subject string
	operator        bool
	perms           []string
	ttl             time.Duration
}

// principal is the token's principal: a tenant's, or with --operator an operator's (no
// tenant; the operator permissions unless --perm names some of them).
func (f *tokenFlags) principal() (auth.Principal, error) {
	for _, p := range f.perms {
		if !knownPermission(p) {
			return auth.Principal{}, fmt.Errorf("unknown permission %q; known: %s", p, strings.Join(auth.Known, ", "))
		}
	}
	if !f.operator {
		if f.tenant == "" {
			return auth.Principal{}, errors.New("--tenant is required (or --operator, for a token of the projection admin routes)")
		}
		for _, p := range f.perms {
			if slices.Contains(auth.OperatorPermissions, p) {
				return auth.Principal{}, fmt.Errorf("%s is an operator permission: a tenant token never reaches the projection admin routes; "+
					"mint an operator token with --operator instead", p)
			}
		}
		return auth.Principal{Subject: f.subject, Tenant: f.tenant, Permissions: f.perms}, nil
	}
	if f.tenant != "" {
		return auth.Principal{}, errors.New("an operator token acts for no tenant: use --operator or --tenant, not both")
	}
	perms := f.perms
	for _, p := range perms {
		if p != auth.All && !slices.Contains(auth.OperatorPermissions, p) {
			return auth.Principal{}, fmt.Errorf("%s is a tenant permission, which an operator token cannot use; operators have %s",
				p, strings.Join(auth.OperatorPermissions, ", "))
		}
	}
	if len(perms) == 0 {
		perms = slices.Clone(auth.OperatorPermissions)
	}
	return auth.Principal{Subject: f.subject, Operator: true, Permissions: perms}, nil
}

func newToken(g *globalFlags) *cobra.Command {
	k := &keyFlags{}
	f := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token (with the configured key, else the development key serve uses)",
		Long: `Token mints a bearer token with the configured key (DOTMAC_JWT_SECRET or DOTMAC_JWT_PUBLIC_KEY), else
with the development key ` + "`dotmac serve`" + ` created in <data dir>/dev-jwt-secret. It never creates a key:
without one it fails, naming the file it looked for.

A token acts for one tenant (--tenant) with the permissions named (--perm), or, with
--operator, for no tenant: an operator token reaches only the operator routes on the admin
listener (--admin-addr: GET /v1/projections..., POST /v1/projections/{name}/rebuild and
/retry, /v1/projection-copies..., POST /v1/audit/checkpoints) and the detail of its /readyz,
which every tenant token is refused, and no tenant's data. It carries projections:read,
projections:rebuild and audit:sign unless --perm names some, and lives at most --jwt-operator-max-lifetime (1h by default).

The data dir follows the rule every command uses: --data-dir, else DOTMAC_DATA_DIR, else var/ of
the repository containing the working directory (the directory whose go.mod declares
github.com/dotmac/ledger), else var/ of the repository the binary is in, else ./var.`,
		Example: `  dotmac token --tenant acme --perm customers:write --perm invoices:read
  dotmac token --tenant acme --perm '*' --ttl 8h
  dotmac token --operator --subject ada              # projection admin, valid 1h
  dotmac token --operator --perm projections:read    # status only, no rebuilds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.principal()
			if err != nil {
				return err
			}
			key, err := k.loadForToken(g)
			if err != nil {
				return err
			}
			ttl := f.ttl
			if ttl == 0 {
				ttl = key.Policy().Lifetime(p.Operator)
			}
			tok, err := key.Mint(p, time.Now(), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	k.bind(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.tenant, "tenant", "", "tenant id the token acts for (required, unless --operator)")
	fs.BoolVar(&f.operator, "operator", false, "mint an operator token (no tenant) for the projection admin routes")
	fs.StringVar(&f.subject, "subject", "dev", "the token's subject (who acts)")
	fs.StringArrayVar(&f.perms, "perm", nil, "a permission to grant; repeat for more ('*' grants all)")
	fs.DurationVar(&f.ttl, "ttl", 0, "how long the token stays valid (default and most: --jwt-max-lifetime, or --jwt-operator-max-lifetime with --operator)")
	cmd.MarkFlagsMutuallyExclusive("tenant", "operator")
	return cmd
}

func knownPermission(p string) bool {
	for _, k := range auth.Known {
		if k == p {
			return true
		}
	}
	return false
}
