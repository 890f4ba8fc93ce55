-- bknd finalize: privileges on every function, and the first JWT secret.

-- Nothing in schema bknd is callable by PUBLIC unless granted below.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA bknd FROM PUBLIC;

-- Anyone: reading the current claims, verifying a token they hold, authenticating.
GRANT EXECUTE ON FUNCTION
  bknd.claims(), bknd.uid(), bknd.role(), bknd.email(), bknd.touch_updated_at(),
  bknd.jwt_verify(text), bknd.jwt_verify_text(text), bknd.authenticate(text, text, text, jsonb, text)
TO PUBLIC;

-- service_role: signing tokens and building the schema (superusers can always).
GRANT EXECUTE ON FUNCTION
  bknd.jwt_sign(jsonb, integer),
  bknd.create_table(text, jsonb, jsonb),
  bknd.adopt_table(text, jsonb),
  bknd.add_column(text, text, jsonb),
  bknd.drop_column(text, text),
  bknd.rename_column(text, text, text),
  bknd.drop_table(text, boolean),
  bknd.create_index(text, text[], boolean, text),
  bknd.create_relation(text, text, text, jsonb),
  bknd.describe_table(text),
  bknd.list_tables(),
  bknd.allow(text, text, text, text),
  bknd.revoke(text, text, text, text),
  bknd.policies(text),
  bknd.schema_history(integer)
TO service_role;

-- The sidecar LISTENs on bknd_schema and reloads its schema cache when the schema changes.
CREATE FUNCTION bknd.notify_schema_change() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  PERFORM pg_notify('bknd_schema', 'reload');
END
$$;
REVOKE ALL ON FUNCTION bknd.notify_schema_change() FROM PUBLIC;
CREATE EVENT TRIGGER bknd_schema_changed ON ddl_command_end EXECUTE FUNCTION bknd.notify_schema_change();
CREATE EVENT TRIGGER bknd_schema_dropped ON sql_drop EXECUTE FUNCTION bknd.notify_schema_change();

-- Auth: signing up and in for anyone with an API key; the signed-in user's own functions;
-- administration for service_role.
GRANT EXECUTE ON FUNCTION
  bknd.sign_up(text, text, jsonb, text),
  bknd.sign_in_password(text, text, text),
  bknd.refresh_session(text, text),
  bknd.auth_public_settings(),
  bknd.verify_email_code(text, text, text, text),
  bknd.verify_email_link(text, text, text),
  bknd.exchange_auth_code(text, text, text)
TO anon, authenticated, service_role;
-- it returns the code to send: the sidecar's own role only, never an API role
-- (run_as: authenticate and one statement in one call, for the sidecar's auth calls)
GRANT EXECUTE ON FUNCTION bknd.run_as(text, text, text, text, text, text[]) TO authenticator;
-- realtime: subscribers' checks and sending run as the caller, under the policies; only the
-- sidecar reads the change log and messages; publishing a table is service_role's (CREATE
-- TRIGGER needs EXECUTE on the trigger function)
GRANT EXECUTE ON FUNCTION bknd.realtime_topic(), bknd.realtime_visible(text, text, jsonb), bknd.realtime_visibility_sql(text, text),
  bknd.realtime_send(text, text, jsonb, boolean), bknd.realtime_send_from(text, text, text, jsonb, boolean),
  bknd.realtime_send_bytes(text, text, text, bytea, boolean),
  bknd.realtime_authorize(text, text), bknd.realtime_probe(text, text), bknd.realtime_replay(text, timestamptz, integer)
TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION bknd.enable_realtime(text), bknd.disable_realtime(text), bknd.realtime_table(text),
  bknd.realtime_capture() TO service_role;
GRANT EXECUTE ON FUNCTION bknd.realtime_changes_in(text[]), bknd.realtime_message(bigint), bknd.realtime_prune(interval),
  bknd.realtime_tables(), bknd.realtime_presence_relay(jsonb), bknd.realtime_changes_since(xid8, integer),
  bknd.realtime_visible_to(text, text, jsonb, jsonb), bknd.realtime_changes_json(bigint[]), bknd.realtime_stamp_unheard(),
  bknd.realtime_replay_changes(text, text, bigint, timestamptz, bigint, integer) TO authenticator;
-- webhooks: endpoints are service_role's; claiming, reporting and pruning deliveries the
-- sidecar's (which is handed signatures, never a secret)
GRANT EXECUTE ON FUNCTION bknd.create_webhook(text, text, text[], jsonb), bknd.list_webhooks(),
  bknd.update_webhook(text, jsonb), bknd.delete_webhook(text), bknd.rotate_webhook_secret(text),
  bknd.test_webhook(text), bknd.resend_webhook_delivery(bigint), bknd.webhook_deliveries_of(text, text, integer)
TO service_role;
GRANT EXECUTE ON FUNCTION bknd.webhook_claim(text, integer, integer, integer),
  bknd.webhook_result(bigint, text, integer, text, integer, integer), bknd.webhook_prune(interval)
TO authenticator;
-- the capture triggers run as whoever writes a watched or published table; what they log goes
-- through these, which refuse to be called but by those triggers
GRANT EXECUTE ON FUNCTION bknd.webhook_log_change(regclass, text, jsonb, jsonb),
  bknd.realtime_log_change(regclass, text, jsonb, jsonb, jsonb, jsonb)
TO PUBLIC;
-- console: signing members in and checking their sessions are the sidecar's; adding members
-- stays with superusers (the `bknd members add` CLI)
GRANT EXECUTE ON FUNCTION bknd.console_set_password(text, text), bknd.console_sign_in(text, text, text, text),
  bknd.console_session(text), bknd.console_sign_out(text), bknd.console_has_members(),
  bknd.console_claims(text, text, text), bknd.console_snippets(text), bknd.console_save_snippet(text, text, text),
  bknd.console_delete_snippet(text, uuid), bknd.console_record(text, text, text, jsonb),
  bknd.console_totp_begin(text), bknd.console_totp_enable(text, text), bknd.console_totp_disable(text, text)
TO authenticator;
GRANT EXECUTE ON FUNCTION bknd.console_api_keys(boolean)
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- the team, seen by every member and managed by owners (the functions check who acts)
GRANT EXECUTE ON FUNCTION bknd.console_team(), bknd.console_invite_member(text, text), bknd.console_set_member_role(text, text),
  bknd.console_remove_member(text)
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- (run_as_row: the same for a whole row, for the sidecar's REST statements)
GRANT EXECUTE ON FUNCTION bknd.run_as_row(text, text, text, jsonb, text, boolean, text, text[]) TO authenticator;
GRANT EXECUTE ON FUNCTION bknd.request_email_token(text, text, boolean, text, text, text) TO authenticator;
GRANT EXECUTE ON FUNCTION bknd.request_email_change_tokens(text, text), bknd.request_reauthentication(text, text) TO authenticator;
-- OAuth: they hand out the provider's client secret and sessions for a provider's word
GRANT EXECUTE ON FUNCTION bknd.oauth_begin(text, text, text, text, text), bknd.oauth_take_state(text),
  bknd.oauth_complete(text, jsonb, text)
TO authenticator;
GRANT EXECUTE ON FUNCTION bknd.get_user(), bknd.update_user(jsonb), bknd.sign_out(text),
  bknd.mfa_enroll(text), bknd.mfa_enroll_totp(text, text), bknd.mfa_challenge(text, text), bknd.mfa_verify(text, text, text, text),
  bknd.mfa_unenroll(text)
TO authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  bknd.admin_create_user(jsonb), bknd.admin_list_users(integer, integer), bknd.admin_get_user(text),
  bknd.admin_update_user(text, jsonb), bknd.admin_delete_user(text),
  bknd.admin_search_users(text, text, integer), bknd.admin_user_detail(text),
  bknd.admin_sign_out_user(text), bknd.admin_remove_factors(text)
TO service_role;
-- auth settings: console admins and owners manage them (the functions check the session's role)
GRANT EXECUTE ON FUNCTION bknd.configure_auth(jsonb), bknd.configure_oauth_provider(text, text, text, text, text, text, text, text, text, boolean),
  bknd.remove_oauth_provider(text)
TO bknd_console_owner, bknd_console_admin;
GRANT EXECUTE ON FUNCTION bknd.console_auth_settings()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- a new JWT secret from the console: owners (the function checks the session's role)
GRANT EXECUTE ON FUNCTION bknd.console_rotate_jwt_secret()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- the console's Home
GRANT EXECUTE ON FUNCTION bknd.console_overview()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- what an agent needs to know, and what it should fix: as the caller, about what it may use
GRANT EXECUTE ON FUNCTION bknd.agent_context(text[]), bknd.advisors(text[]), bknd.api_schema(text[]) TO anon, authenticated, service_role;
-- the requests each sidecar answered, for the Home's chart: the sidecar's own
GRANT EXECUTE ON FUNCTION bknd.record_requests(jsonb) TO authenticator;
-- the console's Logs screen (the members' own actions only for console admins and owners)
GRANT EXECUTE ON FUNCTION bknd.console_logs(text, integer, bigint, timestamptz, timestamptz, text, text) TO service_role;

-- One statement from an operator's tool (MCP execute_sql), as the caller
GRANT EXECUTE ON FUNCTION bknd.execute_sql(text, boolean) TO service_role;

-- Storage: buckets by those who may write bknd.buckets (service_role); objects as the caller,
-- under the policies bknd.allow_storage writes; finishing uploads is the sidecar's alone.
GRANT EXECUTE ON FUNCTION
  bknd.foldername(text), bknd.filename(text), bknd.extension(text),
  bknd.storage_list(text, text, integer, integer, text, text, text),
  bknd.storage_object(text, text), bknd.storage_public_object(text, text),
  bknd.storage_begin_upload(text, text, boolean, text, bigint, jsonb, text),
  bknd.storage_move(text, text, text, text), bknd.storage_begin_copy(text, text, text, text, boolean),
  bknd.storage_begin_move(text, text, text, text),
  bknd.storage_remove(text, text[]), bknd.storage_sign(text, text, text, integer, boolean),
  bknd.storage_verify(text, text, text, text), bknd.storage_upload(uuid),
  bknd.list_buckets(), bknd.get_bucket(text)
TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION
  bknd.create_bucket(text, boolean, bigint, text[]), bknd.update_bucket(text, jsonb),
  bknd.empty_bucket(text), bknd.delete_bucket(text), bknd.allow_storage(text, text, text, text),
  bknd.storage_policies(text), bknd.drop_storage_policy(text, text)
TO service_role;
GRANT EXECUTE ON FUNCTION bknd.storage_finish_upload(uuid, bigint, text, boolean, text, text, jsonb), bknd.storage_abort_upload(uuid),
  bknd.storage_finish_move(uuid, uuid, bigint, text),
  bknd.storage_expire_uploads(integer), bknd.storage_garbage(integer), bknd.storage_garbage_gone(uuid[])
TO authenticator;

INSERT INTO bknd.secrets (name, value) VALUES ('jwt_secret', bknd.generate_secret());
INSERT INTO bknd.secrets (name, value) VALUES ('storage_secret', bknd.generate_secret());
