-- bknd 0.2.0 -> 0.3.0: bknd.run_as (authenticate and one statement in one call, for the
-- sidecar's auth calls); refresh tokens lose their redundant foreign key to users.
-- The same objects a fresh 0.3.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.3.0'" to load this file. \quit

-- src/jwt/run_as.rs
CREATE  FUNCTION "run_as"(
	"token" TEXT, /* Option < & str > */
	"method" TEXT, /* & str */
	"path" TEXT, /* & str */
	"anon_role" TEXT, /* & str */
	"statement" TEXT, /* & str */
	"args" TEXT[] /* Vec < Option < String > > */
) RETURNS TEXT /* Option < String > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_as_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.run_as(text, text, text, text, text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.run_as(text, text, text, text, text, text[]) TO authenticator;

-- a refresh token's user is its session's: the session's foreign key covers it
ALTER TABLE bknd.refresh_tokens DROP CONSTRAINT refresh_tokens_user_id_fkey;
