-- bknd console (since 0.8.0): the team that runs the app, who are not its users. Members
-- (bknd.console_members: email, role, argon2id password), the one-time links that set a
-- member's password (24 hours), and sessions (8 idle hours). Tokens are stored as their
-- SHA-256 only. No role but the extension's functions touches these tables: adding members
-- is a superuser's (`bknd members add`), signing in the sidecar's (src/auth/console.rs).
-- Keep sql/bknd--0.7.0--0.8.0.sql in step with this file.

CREATE TABLE bknd.console_members (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  role text NOT NULL CONSTRAINT console_members_role_check CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
  -- NULL until the member sets one through their link
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_sign_in_at timestamptz,
  -- TOTP for the member's own sign-in (RFC 6238): the secret once a code confirmed it, one
  -- being set up, and the last time step used (a code signs in once)
  totp_secret text,
  totp_pending text,
  totp_last_step bigint
);
CREATE UNIQUE INDEX console_members_email_key ON bknd.console_members (lower(email));

CREATE TABLE bknd.console_tokens (
  token_hash bytea PRIMARY KEY,
  member_id uuid NOT NULL REFERENCES bknd.console_members (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);
CREATE INDEX console_tokens_member_idx ON bknd.console_tokens (member_id);

CREATE TABLE bknd.console_sessions (
  token_hash bytea PRIMARY KEY,
  member_id uuid NOT NULL REFERENCES bknd.console_members (id) ON DELETE CASCADE,
  ip inet,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_sessions_member_idx ON bknd.console_sessions (member_id);

-- Each member's saved SQL, reached only through the console_*snippet* functions with the
-- member's session.
CREATE TABLE bknd.console_snippets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  member_id uuid NOT NULL REFERENCES bknd.console_members (id) ON DELETE CASCADE,
  name text NOT NULL,
  sql text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (member_id, name)
);

-- What members changed through the console, after it succeeded (schema changes are also in
-- bknd.schema_history): written by the sidecar through bknd.console_record; read by superusers
-- (a role SQL can switch to must not read it; console part 2 adds a checked reader).
CREATE TABLE bknd.console_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  member_id uuid REFERENCES bknd.console_members (id) ON DELETE SET NULL,
  email text NOT NULL,
  role text NOT NULL,
  action text NOT NULL,
  target text,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX console_audit_at_idx ON bknd.console_audit (at DESC);

ALTER TABLE bknd.console_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_snippets ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_audit ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.console_members, bknd.console_tokens, bknd.console_sessions, bknd.console_snippets, bknd.console_audit FROM PUBLIC;

-- The database enforces what a member may do: console work runs as one role per member role
-- (bknd.authenticate takes them only from a console session). Each is a member of service_role,
-- so it builds and reads through the same bknd.* functions, and bypasses RLS as service_role
-- does; a viewer's transactions are read-only, and only admins and owners may sign keys
-- (bknd.jwt_sign, bknd.console_api_keys). Roles are cluster-wide and may exist already.
DO $console_roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['bknd_console_owner', 'bknd_console_admin', 'bknd_console_developer', 'bknd_console_viewer'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN BYPASSRLS', r);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
    IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE format('ALTER ROLE %I BYPASSRLS', r);
    END IF;
    IF NOT pg_catalog.pg_has_role(r, 'service_role', 'MEMBER') THEN
      EXECUTE format('GRANT service_role TO %I', r);
    END IF;
    IF NOT pg_catalog.pg_has_role('authenticator', r, 'MEMBER') THEN
      EXECUTE format('GRANT %I TO authenticator', r);
    END IF;
  END LOOP;
END
$console_roles$;

SELECT pg_catalog.pg_extension_config_dump('bknd.console_members', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.console_snippets', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.console_audit', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.console_audit_id_seq', '');

-- (console part 2) the Users screen's keyset pages and email-prefix search, and one user's
-- audit trail, stay fast at millions of rows
CREATE INDEX users_created_at_idx ON bknd.users (created_at, id);
CREATE INDEX users_email_prefix_idx ON bknd.users (lower(email) text_pattern_ops);
CREATE INDEX audit_log_user_id_idx ON bknd.audit_log (user_id, id);
-- the Logs screen's time ranges over the schema history
CREATE INDEX schema_history_at_idx ON bknd.schema_history (at);

-- (console part 2) requests answered per hour and surface, added by each sidecar once a minute
-- (bknd.record_requests) for the console's Home; kept 30 days
CREATE TABLE bknd.request_stats (
  hour timestamptz NOT NULL,
  surface text NOT NULL,
  requests bigint NOT NULL DEFAULT 0,
  errors bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, surface)
);
ALTER TABLE bknd.request_stats ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.request_stats FROM PUBLIC;
