-- zaslon audit: the PostgreSQL sink's table. zaslon runs this file on every
-- connect after `SET search_path TO <[audit] schema>`, so every statement is
-- idempotent and unqualified.
--
-- One row per audit record. `line` is the record exactly as hashed: the
-- chain is checked over it (`prev` of row N+1 = SHA-256 hex of `line` of row
-- N within one `chain`). The other columns are copies for querying.

CREATE TABLE IF NOT EXISTS audit_events (
    chain          text        NOT NULL,           -- one hash chain per replica ([audit] chain)
    seq            bigint      NOT NULL,           -- 0, 1, 2, ... within the chain
    prev           text        NOT NULL,           -- hex SHA-256 of the previous line, 64 zeros first
    hash           text        NOT NULL,           -- hex SHA-256 of this line
    time           timestamptz,                    -- the event's time (NULL if unparseable)
    client         text        NOT NULL,
    actor          text,
    purpose        text,
    route          text,                           -- route template, never a raw path
    decision       text        NOT NULL,           -- allow | deny | abort
    legal_override boolean     NOT NULL DEFAULT false,
    subjects       text[]      NOT NULL DEFAULT '{}', -- keyed pseudonyms, never raw ids
    line           text        NOT NULL,
    written_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain, seq)
);

CREATE INDEX IF NOT EXISTS audit_events_subjects ON audit_events USING gin (subjects);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time);

-- Append-only: the writer never updates or deletes; neither may anyone else
-- without first dropping this trigger (which needs the table owner).
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'zaslon audit records are append-only';
END;
$$;

CREATE OR REPLACE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
