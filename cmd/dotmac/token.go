package main

import (
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
		DevKeyFile: filepath.Join(g.dataDir, "dev-jwt-secret"), Policy: k.policy})
}

func newToken(g *globalFlags) *cobra.Command {
	k := &keyFlags{}
	var tenant, subject string
	var perms []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token (with the configured key, else the development key serve uses)",
		Example: `  dotmac token --tenant acme --perm customers:write --perm invoices:read
  dotmac token --tenant acme --perm '*' --ttl 8h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range perms {
				if !knownPermission(p) {
					return fmt.Errorf("unknown permission %q; known: %s", p, strings.Join(auth.Known, ", "))
				}
			}
			key, _, err := k.load(g)
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
