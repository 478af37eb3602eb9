-- +goose Up
-- A tenant on hold is left alone by the process managers (no overdue marks, dunning or
-- billing runs) while a tool records its history through the handlers (demo seed, import).
-- A hold lapses at expires_at unless its holder renews it.
CREATE TABLE proc_tenant_holds (
    tenant     text        PRIMARY KEY,
    holder     text        NOT NULL,
    reason     text        NOT NULL,
    held_at    timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE proc_tenant_holds;
