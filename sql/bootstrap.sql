-- bknd bootstrap: roles, the extension's own tables, claim helpers.
-- Runs first in CREATE EXTENSION (search_path = bknd).

-- Roles are cluster-wide and may already exist (another database, or a Supabase-style setup).
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by another database's CREATE EXTENSION
      END;
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') THEN
    BEGIN
      CREATE ROLE authenticator LOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$roles$;

-- Only touch pg_authid when something is missing: a cluster's databases share these roles.
DO $grants$
DECLARE
  r text;
BEGIN
  IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
    ALTER ROLE service_role BYPASSRLS;
  END IF;
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT pg_catalog.pg_has_role('authenticator', r, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO authenticator', r);
    END IF;
  END LOOP;
END
$grants$;

-- Everything API roles may call in schema bknd is granted one by one in finalize.sql.
GRANT USAGE ON SCHEMA bknd TO anon, authenticated, service_role, authenticator;
-- service_role builds the schema through the MCP tools, so it may create tables in public.
DO $public$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public') THEN
    GRANT USAGE, CREATE ON SCHEMA public TO service_role;
    GRANT USAGE ON SCHEMA public TO anon, authenticated;
  END IF;
END
$public$;

-- Secrets: the JWT secret and a JWKS document. No API role has any privilege on this table;
-- the Rust code reads it as the extension owner (see src/identity.rs).
CREATE TABLE bknd.secrets (
  name text PRIMARY KEY CHECK (name IN ('jwt_secret', 'jwks', 'jwt_hs_enabled', 'storage_secret')),
  value text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON bknd.secrets FROM PUBLIC;
COMMENT ON TABLE bknd.secrets IS 'bknd key store; readable by no API role';

-- A restore replays the dumped rows after CREATE EXTENSION generated fresh ones: the restored
-- value replaces the generated one, so tokens issued before the dump keep working.
CREATE FUNCTION bknd.secrets_restore_upsert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM bknd.secrets WHERE name = NEW.name) THEN
    UPDATE bknd.secrets SET value = NEW.value, updated_at = now() WHERE name = NEW.name;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION bknd.secrets_restore_upsert() FROM PUBLIC;
CREATE TRIGGER secrets_restore_upsert BEFORE INSERT ON bknd.secrets
  FOR EACH ROW EXECUTE FUNCTION bknd.secrets_restore_upsert();
SELECT pg_catalog.pg_extension_config_dump('bknd.secrets', '');

-- Every schema change made through bknd.* functions.
CREATE TABLE bknd.schema_history (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  by_role text NOT NULL DEFAULT current_user,
  by_session_user text NOT NULL DEFAULT session_user,
  by_sub text,
  operation text NOT NULL,
  arguments jsonb NOT NULL,
  ddl text[] NOT NULL
);
REVOKE ALL ON bknd.schema_history FROM PUBLIC;
GRANT SELECT ON bknd.schema_history TO service_role;
SELECT pg_catalog.pg_extension_config_dump('bknd.schema_history', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.schema_history_id_seq', '');

-- The newest schema changes first, for those who may read bknd.schema_history (service_role):
-- the sidecar (MCP, the console) calls this instead of reading the table.
CREATE FUNCTION bknd.schema_history(max_rows integer DEFAULT 50) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(h ORDER BY h.id DESC), '[]')
  FROM (SELECT id, at, by_role, by_sub, operation, arguments, ddl
        FROM bknd.schema_history ORDER BY id DESC LIMIT least(greatest(max_rows, 0), 1000)) h
$$;

-- Claim helpers. SQL, so the planner inlines them; `(SELECT bknd.uid())` in a policy is
-- evaluated once per statement.
CREATE FUNCTION bknd.claims() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

-- One expression with no FROM, so the planner inlines it: a policy's (SELECT bknd.uid()) and an
-- owner_id default do not parse and plan a function body again on every statement.
CREATE FUNCTION bknd.uid() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN bknd.claims() ->> 'sub' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN (bknd.claims() ->> 'sub')::uuid END
$$;

CREATE FUNCTION bknd.role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(bknd.claims() ->> 'role', current_user::text)
$$;

CREATE FUNCTION bknd.email() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT bknd.claims() ->> 'email'
$$;

-- Keeps updated_at current and created_at unchanged on every UPDATE of a bknd table.
CREATE FUNCTION bknd.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  NEW.updated_at := now();
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END
$$;
