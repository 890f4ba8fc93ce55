-- bknd auth: users, identities, sessions, refresh tokens, one-time tokens, MFA, audit log,
-- rate limits. No API role has any privilege on these tables: everything goes through the
-- SECURITY DEFINER functions in src/auth/. Secrets are stored only as SHA-256 hashes (tokens)
-- or argon2id hashes (passwords).

CREATE TABLE bknd.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text,
  password_hash text,
  email_confirmed_at timestamptz,
  role text NOT NULL DEFAULT 'authenticated',
  app_metadata jsonb NOT NULL DEFAULT '{}',
  user_metadata jsonb NOT NULL DEFAULT '{}',
  banned_until timestamptz,
  last_sign_in_at timestamptz,
  is_anonymous boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- (since 0.5.0, last, where the upgrade adds them) an email change waiting for its
  -- confirmation(s) (src/auth/email_change.rs), and when the codes for it were made
  email_change text,
  email_change_sent_at timestamptz
);
CREATE UNIQUE INDEX users_email_key ON bknd.users (lower(email));

CREATE TABLE bknd.identities (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES bknd.users (id) ON DELETE CASCADE,
  provider text NOT NULL,
  provider_id text NOT NULL,
  identity_data jsonb NOT NULL DEFAULT '{}',
  last_sign_in_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider, provider_id)
);
CREATE INDEX identities_user_id_idx ON bknd.identities (user_id);

CREATE TABLE bknd.sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES bknd.users (id) ON DELETE CASCADE,
  aal text NOT NULL DEFAULT 'aal1',
  amr jsonb NOT NULL DEFAULT '[]',
  ip inet,
  user_agent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_id_idx ON bknd.sessions (user_id);

-- A session's refresh tokens form one family: each use revokes the token and issues its child.
CREATE TABLE bknd.refresh_tokens (
  id bigserial PRIMARY KEY,
  token_hash bytea NOT NULL UNIQUE,
  session_id uuid NOT NULL REFERENCES bknd.sessions (id) ON DELETE CASCADE,
  -- the session's user: no foreign key of its own, the session's covers it (a user's deletion
  -- removes their sessions, and those their tokens) and it would cost a check per token
  user_id uuid NOT NULL,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session_id_idx ON bknd.refresh_tokens (session_id);

CREATE TABLE bknd.one_time_tokens (
  id bigserial PRIMARY KEY,
  user_id uuid REFERENCES bknd.users (id) ON DELETE CASCADE,
  email text,
  purpose text NOT NULL,
  token_hash bytea NOT NULL,
  -- PKCE: a link redeemed with these set answers an auth code instead of a session
  code_challenge text,
  code_challenge_method text,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- (since 0.5.0, last, where the upgrade adds it) a 6-digit code (redeemed with its email,
  -- limited per email) or a link's 32-byte token: never one for the other (their hashes are
  -- domain-separated too)
  kind text NOT NULL CHECK (kind IN ('code', 'link'))
);
CREATE INDEX one_time_tokens_hash_idx ON bknd.one_time_tokens (token_hash);

-- PKCE auth codes waiting to be exchanged (with the code verifier) for a session.
CREATE TABLE bknd.flow_states (
  id bigserial PRIMARY KEY,
  auth_code_hash bytea NOT NULL UNIQUE,
  user_id uuid NOT NULL REFERENCES bknd.users (id) ON DELETE CASCADE,
  code_challenge text NOT NULL,
  code_challenge_method text NOT NULL,
  method text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at timestamptz
);

CREATE TABLE bknd.mfa_factors (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES bknd.users (id) ON DELETE CASCADE,
  friendly_name text,
  factor_type text NOT NULL DEFAULT 'totp',
  status text NOT NULL DEFAULT 'unverified',
  secret text NOT NULL,
  last_used_step bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bknd.mfa_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  factor_id uuid NOT NULL REFERENCES bknd.mfa_factors (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  verified_at timestamptz,
  ip inet
);

CREATE TABLE bknd.audit_log (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  user_id uuid,
  action text NOT NULL,
  ip inet,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON bknd.audit_log (at);

CREATE TABLE bknd.rate_limits (
  key text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL
);

DO $revoke$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'identities', 'sessions', 'refresh_tokens', 'one_time_tokens', 'flow_states',
                           'mfa_factors', 'mfa_challenges', 'audit_log', 'rate_limits'] LOOP
    EXECUTE format('REVOKE ALL ON bknd.%I FROM PUBLIC', t);
  END LOOP;
END
$revoke$;

SELECT pg_catalog.pg_extension_config_dump('bknd.users', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.identities', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.refresh_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.refresh_tokens_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.mfa_factors', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.audit_log_id_seq', '');

-- Auth settings (one row): autoconfirm, disable_signup, site_url, redirect allow-list.
CREATE TABLE bknd.auth_settings (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  config jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO bknd.auth_settings (config) VALUES ('{}');
REVOKE ALL ON bknd.auth_settings FROM PUBLIC;
-- as for bknd.secrets: a restore's row replaces the one CREATE EXTENSION made
CREATE FUNCTION bknd.auth_settings_restore_upsert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM bknd.auth_settings) THEN
    UPDATE bknd.auth_settings SET config = NEW.config;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION bknd.auth_settings_restore_upsert() FROM PUBLIC;
CREATE TRIGGER auth_settings_restore_upsert BEFORE INSERT ON bknd.auth_settings
  FOR EACH ROW EXECUTE FUNCTION bknd.auth_settings_restore_upsert();
SELECT pg_catalog.pg_extension_config_dump('bknd.auth_settings', '');
