package main

import (
	"errors"
	"fmt"
	"path/filepath"
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

func newToken(g *globalFlags) *cobra.Command {
	k := &keyFlags{}
	var tenant, subject string
	var perms []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token (with the configured key, else the development key serve uses)",
		Long: `Token mints a bearer token with the configured key (DOTMAC_JWT_SECRET or DOTMAC_JWT_PUBLIC_KEY), else
with the development key ` + "`dotmac serve`" + ` created in <data dir>/dev-jwt-secret. It never creates a key:
without one it fails, naming the file it looked for.

The data dir follows the rule every command uses: --data-dir, else DOTMAC_DATA_DIR, else var/ of
the repository containing the working directory (the directory whose go.mod declares
github.com/dotmac/ledger), else var/ of the repository the binary is in, else ./var.`,
		Example: `  dotmac token --tenant acme --perm customers:write --perm invoices:read
  dotmac token --tenant acme --perm '*' --ttl 8h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range perms {
				if !knownPermission(p) {
					return fmt.Errorf("unknown permission %q; known: %s", p, strings.Join(auth.Known, ", "))
				}
			}
			key, err := k.loadForToken(g)
			if err != nil {
				return err
			}
			if ttl == 0 {
				ttl = k.policy.MaxLifetime
			}
			tok, err := key.Mint(auth.Principal{Subject: subject, Tenant: tenant, Permissions: perms}, time.Now(), ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	k.bind(cmd)
	fs := cmd.Flags()
	fs.StringVar(&tenant, "tenant", "", "tenant id the token acts for (required)")
	fs.StringVar(&subject, "subject", "dev", "the token's subject (who acts)")
	fs.StringArrayVar(&perms, "perm", nil, "a permission to grant; repeat for more ('*' grants all)")
	fs.DurationVar(&ttl, "ttl", 0, "how long the token stays valid (default and most: --jwt-max-lifetime)")
	_ = cmd.MarkFlagRequired("tenant")
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
