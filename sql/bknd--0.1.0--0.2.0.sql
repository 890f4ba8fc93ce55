-- bknd 0.1.0 -> 0.2.0: OAuth / OIDC sign-in.
-- The same objects a fresh 0.2.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.2.0'" to load this file. \quit

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

CREATE  FUNCTION "configure_oauth_provider"(
	"name" TEXT, /* & str */
	"client_id" TEXT, /* & str */
	"client_secret" TEXT, /* & str */
	"issuer" TEXT DEFAULT NULL, /* Option < & str > */
	"kind" TEXT DEFAULT NULL, /* Option < & str > */
	"scopes" TEXT DEFAULT NULL, /* Option < & str > */
	"authorize_url" TEXT DEFAULT NULL, /* Option < & str > */
	"token_url" TEXT DEFAULT NULL, /* Option < & str > */
	"userinfo_url" TEXT DEFAULT NULL, /* Option < & str > */
	"enabled" bool DEFAULT true /* bool */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'configure_oauth_provider_wrapper';

CREATE  FUNCTION "remove_oauth_provider"(
	"name" TEXT /* & str */
) RETURNS bool /* bool */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remove_oauth_provider_wrapper';

CREATE  FUNCTION "oauth_begin"(
	"provider" TEXT, /* & str */
	"redirect_to" TEXT DEFAULT NULL, /* Option < & str > */
	"code_challenge" TEXT DEFAULT NULL, /* Option < & str > */
	"code_challenge_method" TEXT DEFAULT NULL, /* Option < & str > */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_begin_wrapper';

CREATE  FUNCTION "oauth_take_state"(
	"state" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_take_state_wrapper';

CREATE  FUNCTION "oauth_complete"(
	"state" TEXT, /* & str */
	"identity" jsonb, /* pgrx :: JsonB */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'oauth_complete_wrapper';

-- functions are not callable by PUBLIC (finalize.sql does this for a fresh install)
REVOKE EXECUTE ON FUNCTION bknd.configure_oauth_provider(text, text, text, text, text, text, text, text, text, boolean),
  bknd.remove_oauth_provider(text), bknd.oauth_begin(text, text, text, text, text), bknd.oauth_take_state(text),
  bknd.oauth_complete(text, jsonb, text) FROM PUBLIC;
-- OAuth: they hand out the provider's client secret and sessions for a provider's word
GRANT EXECUTE ON FUNCTION bknd.oauth_begin(text, text, text, text, text), bknd.oauth_take_state(text),
  bknd.oauth_complete(text, jsonb, text)
TO authenticator;
