-- bknd 0.4.0 -> 0.5.0: the audit's fixes (issue 14).
-- The same objects a fresh 0.5.0 install creates (tests/tests/upgrade.rs compares the two).
-- Each area keeps its own section below; keep the install SQL (sql/*.sql, src/**) in step.
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.5.0'" to load this file. \quit

-- == storage ==
-- A pending upload may replace only the version it was allowed to when it began (a signed URL
-- or TUS upload made before someone else's object took the name can no longer overwrite it).
ALTER TABLE bknd.objects ADD COLUMN replaces_version uuid;
-- a row moved to another bucket by UPDATE lost its bytes (they live under the bucket)
REVOKE UPDATE (bucket_id) ON bknd.objects FROM anon, authenticated, service_role;

-- src/storage/object.rs: moves to another bucket copy the bytes (they were left behind)
CREATE  FUNCTION "storage_begin_move"(
	"bucket" TEXT, /* & str */
	"from" TEXT, /* & str */
	"to" TEXT, /* & str */
	"to_bucket" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_begin_move_wrapper';
CREATE  FUNCTION "storage_finish_move"(
	"upload_id" uuid, /* pgrx :: Uuid */
	"source_id" uuid, /* pgrx :: Uuid */
	"size" bigint, /* i64 */
	"etag" TEXT /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'storage_finish_move_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.storage_begin_move(text, text, text, text), bknd.storage_finish_move(uuid, uuid, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.storage_begin_move(text, text, text, text) TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION bknd.storage_finish_move(uuid, uuid, bigint, text) TO authenticator;

-- Private buckets are no longer listed to anon and users (only public ones are).
DROP POLICY bknd_buckets_visible ON bknd.buckets;
CREATE POLICY bknd_buckets_visible ON bknd.buckets FOR SELECT USING (public);

-- == auth ==
-- One-time codes and link tokens are told apart (kind) and hashed in separate domains, so a
-- 6-digit code can no longer be redeemed as a link (which was limited per IP only). Tokens made
-- before cannot be told apart: they end here (they lived an hour; a new request makes new ones).
UPDATE bknd.one_time_tokens SET used_at = now() WHERE used_at IS NULL;
ALTER TABLE bknd.one_time_tokens ADD COLUMN kind text NOT NULL DEFAULT 'link' CHECK (kind IN ('code', 'link'));
ALTER TABLE bknd.one_time_tokens ALTER COLUMN kind DROP DEFAULT;

-- A user's new email waits for its confirmation(s) instead of replacing the current one.
ALTER TABLE bknd.users ADD COLUMN email_change text, ADD COLUMN email_change_sent_at timestamptz;

-- src/auth/email_change.rs: the codes for a recorded email change, for the sidecar to mail
CREATE  FUNCTION "request_email_change_tokens"(
	"user_id" TEXT, /* & str */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'request_email_change_tokens_wrapper';
-- src/auth/reauthenticate.rs: a reauthentication nonce, for the sidecar to mail
CREATE  FUNCTION "request_reauthentication"(
	"user_id" TEXT, /* & str */
	"ip" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'request_reauthentication_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.request_email_change_tokens(text, text), bknd.request_reauthentication(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.request_email_change_tokens(text, text), bknd.request_reauthentication(text, text) TO authenticator;

-- src/auth/mfa.rs: TOTP enrolment naming the issuer the client sends; the QR code is the SVG
-- itself, as GoTrue answers it
CREATE  FUNCTION "mfa_enroll_totp"(
	"friendly_name" TEXT DEFAULT NULL, /* core::option::Option<&str> */
	"issuer" TEXT DEFAULT NULL /* core::option::Option<&str> */
) RETURNS jsonb /* pgrx :: JsonB */
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'mfa_enroll_totp_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.mfa_enroll_totp(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.mfa_enroll_totp(text, text) TO authenticated, service_role;

-- == tables ==
-- src/ddl/table.rs: tables that existed before CREATE EXTENSION can be brought under bknd
CREATE  FUNCTION "adopt_table"(
	"table_name" TEXT, /* & str */
	"options" jsonb DEFAULT '{}' /* pgrx :: JsonB */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'adopt_table_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.adopt_table(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.adopt_table(text, jsonb) TO service_role;

-- Tables bknd made have one owner, service_role, whoever made them (a table made from psql
-- as a superuser was its, and service_role could not manage it). Only tables bknd still
-- manages: made by create_table and not dropped since, RLS on, owned by a superuser (psql)
-- or already by service_role; a table someone made later under a dropped table's name is left.
DO $owners$
DECLARE
  h record;
  t regclass;
BEGIN
  FOR h IN
    SELECT DISTINCT ON (arguments->>'table_name') arguments->>'table_name' AS name,
           coalesce(arguments->'options'->>'schema', 'public') AS schema, operation
    FROM bknd.schema_history WHERE operation IN ('create_table', 'drop_table')
    ORDER BY arguments->>'table_name', id DESC
  LOOP
    CONTINUE WHEN h.operation <> 'create_table';
    t := NULL;
    BEGIN
      t := CASE WHEN strpos(h.name, '.') > 0 THEN to_regclass(h.name)
                ELSE to_regclass(pg_catalog.quote_ident(h.schema) || '.' || pg_catalog.quote_ident(h.name)) END;
    EXCEPTION WHEN OTHERS THEN
      t := NULL;
    END;
    IF t IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
      WHERE c.oid = t AND c.relkind IN ('r', 'p') AND c.relrowsecurity AND (r.rolsuper OR r.rolname = 'service_role'))
    THEN
      EXECUTE format('ALTER TABLE %s OWNER TO service_role', t);
    END IF;
  END LOOP;
END
$owners$;

-- == sql and rest ==
-- src/execute_sql.rs: one statement, as the caller, for MCP's execute_sql (a text of several
-- could COMMIT and go on as the sidecar's login role)
CREATE  FUNCTION "execute_sql"(
	"query" TEXT, /* & str */
	"read_only" bool DEFAULT true /* bool */
) RETURNS jsonb /* pgrx :: JsonB */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'execute_sql_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.execute_sql(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.execute_sql(text, boolean) TO service_role;
