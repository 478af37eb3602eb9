-- +goose Up
-- The catalog of as-of copies (dotmac projections rebuild --as-of ... --into SCHEMA): who made
-- which copy of what, as of when. Only a schema named here can be dropped as a copy
-- (dotmac projections drop-copy, DELETE /v1/projection-copies/{name}), and the number of rows
-- is capped (--max-copies). A row goes with its build's (projection_builds): dropping the
-- build forgets the copy.
CREATE TABLE projection_copies (
    schema_name     text        NOT NULL REFERENCES projection_builds (schema_name) ON DELETE CASCADE,
    projection      text        NOT NULL,
    -- The as-of the copy was asked for, as given (a position, a time, a business date), or
    -- "the head".
    as_of           text        NOT NULL,
    target_position bigint      NOT NULL,
    -- Who asked: the operator token's subject, or cli:<user> for the CLI.
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projection_copies_pkey PRIMARY KEY (schema_name)
);

-- Copies made before the catalog existed.
INSERT INTO projection_copies (schema_name, projection, as_of, target_position, created_by, created_at)
SELECT schema_name, projection, 'position ' || coalesce(target_position, 0), coalesce(target_position, 0),
       'unknown (made before the catalog)', started_at
FROM projection_builds WHERE purpose = 'as_of' AND status IN ('building', 'done');

-- +goose Down
DROP TABLE projection_copies;
