// Package csvimport moves customers over from another system: it reads plans, customers,
// services and opening balances from CSV files and records them through the command handlers
// (package commands), exactly as the HTTP API would.
//
// # Files
//
// Each file has a header row; columns may come in any order, their names are matched without
// regard to case, values are trimmed, and a UTF-8 byte order mark is accepted. An unknown
// column, a missing required column, a broken quote, a binary file or a header that is not
// UTF-8 makes the whole file unreadable (*FileError): nothing at all is recorded. A bad row
// (a missing value, a value that is not UTF-8, a value the domain refuses) only rejects that
// row (a Rejection naming its file, line and column).
//
// # Ids and re-imports
//
// Every command runs with a command id derived from the tenant, the row's kind, its external
// id and the step (commands.DeriveUUID under a fixed root), and with Meta.Recovering: the ids
// of what an import creates are known beforehand (commands.CustomerIDFor, ServiceIDFor), and
// importing the same files again finds every command already applied and appends nothing.
//
// # Dry run
//
// A dry run runs the same handlers over a store that reads the ledger and keeps its appends
// in memory (invoice numbers too), so it reports the same rows, rejections and event counts as
// the import would, and records nothing.
package csvimport
