-- zaslon's consent schema for the `postgres` consent backend.
--
-- Apply it in the schema the config names (`schema`, default public), e.g.:
--   psql -v ON_ERROR_STOP=1 -c 'create schema if not exists zaslon' \
--        -c 'set search_path to zaslon' -f config/sql/consent.sql
-- (psql runs -c and -f in order on one connection; or put
-- `set search_path to zaslon;` first in a copy of this file.)
--
-- The MIS writes these tables; zaslon only reads them. Every insert,
-- update or delete NOTIFYs channel `zaslon_consent` with the subject id,
-- and TRUNCATE with `*`, so every zaslon replica drops that subject's
-- cached state at once.

create table if not exists consent (
    subject    text        not null,
    purpose    text        not null check (purpose in ('auth', 'appointments', 'care',
                           'documents', 'support', 'feedback', 'analytics', 'marketing', 'legal')),
    granted    boolean     not null,
    changed_at timestamptz not null default now(),
    source     text        not null default '',
    primary key (subject, purpose)
);

create table if not exists subject_state (
    subject    text        primary key,
    state      text        not null check (state in ('active', 'blocked')),
    changed_at timestamptz not null default now(),
    source     text        not null default ''
);

create or replace function zaslon_consent_notify() returns trigger
language plpgsql as $$
begin
    if tg_op = 'TRUNCATE' then
        perform pg_notify('zaslon_consent', '*');
        return null;
    end if;
    if tg_op in ('UPDATE', 'DELETE') then
        perform pg_notify('zaslon_consent', old.subject);
    end if;
    if tg_op in ('INSERT', 'UPDATE') and (tg_op = 'INSERT' or new.subject is distinct from old.subject) then
        perform pg_notify('zaslon_consent', new.subject);
    end if;
    return null;
end
$$;

drop trigger if exists zaslon_consent_notify on consent;
create trigger zaslon_consent_notify
    after insert or update or delete on consent
    for each row execute function zaslon_consent_notify();

drop trigger if exists zaslon_consent_truncate on consent;
create trigger zaslon_consent_truncate
    after truncate on consent
    for each statement execute function zaslon_consent_notify();

drop trigger if exists zaslon_subject_state_notify on subject_state;
create trigger zaslon_subject_state_notify
    after insert or update or delete on subject_state
    for each row execute function zaslon_consent_notify();

drop trigger if exists zaslon_subject_state_truncate on subject_state;
create trigger zaslon_subject_state_truncate
    after truncate on subject_state
    for each statement execute function zaslon_consent_notify();
