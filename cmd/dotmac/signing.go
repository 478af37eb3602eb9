package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/internal/migrate"
)

var (
	// errNoSigningKeyInProduction: --production without --signing-key-file.
	errNoSigningKeyInProduction = errors.New("production mode needs a checkpoint signing key: --signing-key-file or DOTMAC_SIGNING_KEY_FILE " +
		"(create one with dotmac keys generate FILE)")
	// errDevSigningKeyInProduction: --production with the generated development key.
	errDevSigningKeyInProduction = errors.New("production mode refuses the generated development signing key; create one with dotmac keys generate FILE")
)

// signingFlags configure the key checkpoints are signed with and how often.
type signingFlags struct {
	keyFile  string
	trusted  []string
	interval time.Duration
}

func (s *signingFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &s.keyFile, "signing-key-file", "DOTMAC_SIGNING_KEY_FILE", "",
		"Ed25519 private key (PEM, mode 0600) that signs checkpoints of the event feed; keep it off the database host "+
			"(default: a development key under --data-dir, refused with --production)")
	fs.StringSliceVar(&s.trusted, "signing-trusted-key", nil, withEnv("public key file (PEM) of a signing key rotated out: "+
		"the signer chains onto its newest checkpoint instead of refusing it (repeat, or comma-separate, for several)", "DOTMAC_SIGNING_TRUSTED_KEYS"))
	bindEnv(fs, "signing-trusted-key", "DOTMAC_SIGNING_TRUSTED_KEYS", "")
	durationFlag(fs, &s.interval, "sign-interval", "DOTMAC_SIGN_INTERVAL", audit.DefaultSignInterval,
		"how often to sign a checkpoint when the feed's head has moved")
}

// trustedKeys loads the --signing-trusted-key files.
func (s *signingFlags) trustedKeys() (audit.PublicKeys, error) {
	keys, err := publicKeys(s.trusted)
	if err != nil {
		return nil, fmt.Errorf("--signing-trusted-key: %w", err)
	}
	return keys, nil
}

// signingKeySource says where the signing key came from.
type signingKeySource string

const (
	signingKeyFromFile signingKeySource = "file"
	signingKeyDev      signingKeySource = "development"
)

func devSigningKeyFile(g *globalFlags) string {
	return filepath.Join(g.dataDir.path, "dev-signing-key")
}

// load returns the configured key, else (outside production) the development key under the
// data dir, created on first use with its public key next to it.
func (s *signingFlags) load(g *globalFlags, production bool) (*audit.SigningKey, signingKeySource, error) {
	dev := devSigningKeyFile(g)
	if s.keyFile == "" {
		if production {
			return nil, "", errNoSigningKeyInProduction
		}
		key, err := devSigningKey(dev)
		return key, signingKeyDev, err
	}
	key, err := audit.LoadSigningKey(s.keyFile)
	if err != nil {
		return nil, "", err
	}
	if production && isDevSigningKey(dev, key) {
		return nil, "", errDevSigningKeyInProduction
	}
	return key, signingKeyFromFile, nil
}

func devSigningKey(path string) (*audit.SigningKey, error) {
	if _, err := os.Stat(path); err == nil {
		return audit.LoadSigningKey(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("development signing key: %w", err)
	}
	key, err := audit.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	if err := key.WriteKeyFiles(path); err != nil {
		return nil, err
	}
	return key, nil
}

// isDevSigningKey reports whether key is the development key at path (also when copied
// elsewhere).
func isDevSigningKey(path string, key *audit.SigningKey) bool {
	dev, err := audit.LoadSigningKey(path)
	return err == nil && bytes.Equal(dev.Public(), key.Public())
}

func newKeys(_ *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create the Ed25519 key that signs checkpoints of the event feed"}
	gen := &cobra.Command{
		Use:   "generate FILE",
		Short: "Write a new signing key (mode 0600) to FILE and its public key to FILE.pub",
		Long: `Generate writes a new Ed25519 private key as PKCS#8 PEM to FILE (mode 0600; an existing file
is never overwritten) and its public key as PKIX PEM ("-----BEGIN PUBLIC KEY-----") to
FILE.pub, and prints the public key and its key id. Give the private key to the server
(--signing-key-file / DOTMAC_SIGNING_KEY_FILE) and keep it out of the database and its
backups; give the public key to auditors (dotmac audit verify --public-key).`,
		Example: `  dotmac keys generate /etc/dotmac/signing.key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := args[0]
			key, err := audit.GenerateSigningKey()
			if err != nil {
				return err
			}
			if err := key.WriteKeyFiles(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "private key: %s (mode 0600)\npublic key:  %s.pub\nkey id:      %s\n\n%s", out, out, key.ID(), key.PublicPEM())
			return nil
		},
	}
	cmd.AddCommand(gen)
	return cmd
}

func newAuditSign(g *globalFlags, f *auditFlags) *cobra.Command {
	s := &signingFlags{}
	var production bool
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Sign a checkpoint of the feed now (a server with a signing key also does every --sign-interval)",
		Long: `Sign signs checkpoints of the event feed up to its head with the signing key, and stores them in
audit_checkpoints: each covers the positions after the one before and commits to their hashes
and to every earlier checkpoint. It signs nothing when the head has not moved. Several
processes may sign at once: one checkpoint follows each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, _, err := s.load(g, production)
			if err != nil {
				return err
			}
			trusted, err := s.trustedKeys()
			if err != nil {
				return err
			}
			return withBackend(cmd, g, f, func(b *backend, _ *audit.Auditor) error {
				// As the other commands do: never migrate as the runtime role (it would own the
				// checkpoint table); nothing to do when current, else a clear error.
				if err := migrate.EnsureCurrent(cmd.Context(), b.pool, migrationSets()...); err != nil {
					return err
				}
				signer, err := audit.NewSigner(audit.SignerConfig{Store: b.store, Checkpoints: audit.NewCheckpointStore(b.pool), Key: key, TrustedKeys: trusted, Logger: b.log})
				if err != nil {
					return err
				}
				signed, err := signer.Sign(cmd.Context())
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), signed)
				}
				if len(signed) == 0 {
					fmt.Fprintln(cmd.OutOrStdout(), "nothing to sign: the newest checkpoint already covers the head")
				}
				for _, c := range signed {
					fmt.Fprintf(cmd.OutOrStdout(), "signed positions %d-%d (%d events) digest %s key %s\n", c.PrevPosition+1, c.Position, c.Events, c.Digest, c.KeyID)
				}
				return nil
			})
		},
	}
	s.bind(cmd.Flags())
	boolFlag(cmd.Flags(), &production, "production", "DOTMAC_PRODUCTION", false, "refuse the development signing key")
	return cmd
}

// publicKeyFlag is audit verify's --public-key: files, repeatable, or a comma-free env list.
func publicKeys(paths []string) (audit.PublicKeys, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return audit.LoadPublicKeys(paths...)
}
