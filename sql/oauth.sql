-- bknd OAuth / OIDC (since 0.2.0): the configured providers (with their client secrets) and the
-- sign-ins in flight. Like the other auth tables, no API role may touch them: only the
-- SECURITY DEFINER functions in src/auth/oauth.rs, and the sidecar's own role through them.
-- Keep sql/bknd--0.1.0--0.2.0.sql in step with this file.

CREATE TABLE bknd.oauth_providers (
  name text PRIMARY KEY CONSTRAINT oauth_providers_name_check CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
  -- 'github' (OAuth 2 and the GitHub API) or 'oidc' (discovery from the issuer)
  kind text NOT NULL CONSTRAINT oauth_providers_kind_check CHECK (kind IN ('github', 'oidc')),
  client_id text NOT NULL,
  client_secret text NOT NULL,
  issuer text,
  -- explicit endpoints; for 'oidc' they override what discovery finds
  authorize_url text,
  token_url text,
  userinfo_url text,
  scopes text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per /authorize: the `state` (hashed), the PKCE verifier bknd uses with the provider,
-- and what to do with the session (redirect_to, or the app's own PKCE challenge).
CREATE TABLE bknd.oauth_states (
  id bigserial PRIMARY KEY,
  state_hash bytea NOT NULL UNIQUE,
  provider text NOT NULL REFERENCES bknd.oauth_providers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  provider_verifier text NOT NULL,
  redirect_to text,
  code_challenge text,
  code_challenge_method text,
  created_at timestamptz NOT NULL DEFAULT now(),
  taken_at timestamptz,
  completed_at timestamptz
);
CREATE INDEX oauth_states_created_at_idx ON bknd.oauth_states (created_at);

REVOKE ALL ON bknd.oauth_providers, bknd.oauth_states FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('bknd.oauth_providers', '');
