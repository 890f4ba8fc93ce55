-- bknd 0.7.0 -> 0.8.0: webhooks (issue 18: endpoints, the delivery log and its triggers;
-- sql/webhooks.sql); realtime's capture trigger runs as the writer; the console's team
-- (sql/console.sql, src/auth/console.rs). storage_finish_upload's replaced object is no object.deleted event (the
-- same C symbol, a new library).
-- The same objects a fresh 0.8.0 install creates (tests/tests/upgrade.rs compares the two).
\echo Use "ALTER EXTENSION bknd UPDATE TO '0.8.0'" to load this file. \quit

-- src/webhooks.rs
CREATE FUNCTION bknd."webhook_new_secret"() RETURNS TEXT
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'webhook_new_secret_wrapper';

CREATE FUNCTION bknd."webhook_signature"(
	"secrets" TEXT[],
	"content" TEXT
) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'webhook_signature_wrapper';

-- == realtime == the capture trigger runs as the writer (as sql/realtime.sql)
-- The trigger on a table that publishes. Arguments: its primary key columns. It runs as whoever
-- wrote the row (since 0.8.0), so to_jsonb, which calls any cast to json a column's type has,
-- runs with the writer's rights and never the extension owner's; bknd.realtime_log_change
-- writes the log.
CREATE OR REPLACE FUNCTION bknd.realtime_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_row jsonb := to_jsonb(NEW);
  old_row jsonb := to_jsonb(OLD);
  keys jsonb;
  old_keys jsonb;
BEGIN
  SELECT jsonb_object_agg(k, coalesce(new_row, old_row) -> k), jsonb_object_agg(k, old_row -> k)
    INTO keys, old_keys FROM unnest(TG_ARGV) AS k;
  PERFORM bknd.realtime_log_change(TG_RELID, TG_OP, new_row, CASE WHEN old_row IS NULL THEN NULL ELSE old_keys END, keys,
    CASE WHEN TG_OP = 'DELETE' THEN old_row END);
  RETURN NULL;
END $$;

-- Log a change for bknd_realtime triggers only (any role's writes reach it, so it checks that
-- it is called by a trigger, and that the table publishes).
CREATE FUNCTION bknd.realtime_log_change(rel regclass, op text, record jsonb, old_record jsonb, primary_key jsonb,
                                         deleted_row jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_trigger_depth() < 1 OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname = 'bknd_realtime') THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'bknd.realtime_log_change is for the bknd_realtime trigger';
  END IF;
  INSERT INTO bknd.realtime_changes (schema_name, table_name, type, record, old_record, primary_key, deleted_row)
  SELECT n.nspname, c.relname, op, record, old_record, primary_key, deleted_row
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
  -- one notification per transaction (PostgreSQL folds equal ones), delivered at commit
  PERFORM pg_notify('bknd_realtime', pg_current_xact_id()::text);
END $$;

REVOKE EXECUTE ON FUNCTION bknd.realtime_log_change(regclass, text, jsonb, jsonb, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.realtime_log_change(regclass, text, jsonb, jsonb, jsonb, jsonb) TO PUBLIC;

-- == webhooks == (as sql/webhooks.sql)
-- bknd webhooks (since 0.8.0): endpoints (bknd.webhooks, managed by service_role through the
-- functions below) and a durable delivery log (bknd.webhook_deliveries) written by triggers in
-- the same transaction as the change: on tables an endpoint names, on bknd.users and
-- bknd.sessions (user.*), on bknd.objects (object.*). The sidecar claims due deliveries
-- (bknd.webhook_claim), sends them as Standard Webhooks signed here (so it never holds a
-- secret) and reports each attempt (bknd.webhook_result), which schedules the retries.
-- Keep sql/bknd--0.7.0--0.8.0.sql in step with this file.

CREATE TABLE bknd.webhooks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CONSTRAINT webhooks_name_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  url text NOT NULL,
  -- normalised: user.*, object.* as given; <table>.<op> for public tables, <schema>.<table>.<op>
  events text[] NOT NULL,
  format text NOT NULL DEFAULT 'standard' CONSTRAINT webhooks_format_check CHECK (format IN ('standard', 'supabase')),
  headers jsonb NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  -- why it is off, when bknd turned it off (the endpoint answered 410)
  disabled_reason text,
  -- whsec_<base64>; readable by no API role
  secret text NOT NULL,
  -- the secret before the last rotation, signed with too until previous_secret_until
  previous_secret text,
  previous_secret_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per event and endpoint: an attempt group. event_id is the webhook-id header, the same
-- across retries and resends (and across the endpoints one event goes to).
CREATE TABLE bknd.webhook_deliveries (
  id bigserial PRIMARY KEY,
  event_id text NOT NULL,
  webhook_id uuid NOT NULL REFERENCES bknd.webhooks (id) ON DELETE CASCADE,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  -- pending: not yet tried; failed: tried, to be retried at next_attempt_at; delivered; dead
  status text NOT NULL DEFAULT 'pending'
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  last_status integer,
  last_error text,
  latency_ms integer,
  next_attempt_at timestamptz DEFAULT now(),
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- the sidecar sending it now, and until when its claim holds (a sidecar that is gone loses
  -- its claims at once: see bknd.webhook_claim)
  claimed_by text,
  claimed_until timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON bknd.webhook_deliveries (webhook_id, next_attempt_at, id)
  WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_claimed_idx ON bknd.webhook_deliveries (webhook_id) WHERE claimed_by IS NOT NULL;
CREATE INDEX webhook_deliveries_created_idx ON bknd.webhook_deliveries (created_at);

ALTER TABLE bknd.webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.webhook_deliveries ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.webhooks, bknd.webhook_deliveries FROM PUBLIC;
-- service_role reads the log (RLS is on, so a policy says so); nobody writes it but bknd
GRANT SELECT ON bknd.webhook_deliveries TO service_role;
CREATE POLICY webhook_deliveries_service_read ON bknd.webhook_deliveries FOR SELECT TO service_role USING (true);

SELECT pg_catalog.pg_extension_config_dump('bknd.webhooks', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.webhook_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('bknd.webhook_deliveries_id_seq', '');

-- Event names -----------------------------------------------------------------------------

-- One event name as given to create_webhook, normalised (public tables without their schema),
-- or an error (22023 for a name that is no event, 42P01 for a table that does not exist).
CREATE FUNCTION bknd.webhook_event_name(event text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  parts text[] := string_to_array(event, '.');
  n integer := coalesce(array_length(parts, 1), 0);
  op text := lower(parts[n]);
  schema_name text;
  table_name text;
  rel regclass;
BEGIN
  IF event IN ('user.created', 'user.signed_in', 'user.updated', 'user.deleted', 'object.created', 'object.deleted') THEN
    RETURN event;
  END IF;
  IF n NOT IN (2, 3) OR op NOT IN ('insert', 'update', 'delete', '*') OR '' = ANY (parts) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown webhook event %L', event),
      HINT = 'events are <table>.<insert|update|delete|*> (the table optionally schema-qualified), user.created, '
             'user.signed_in, user.updated, user.deleted, object.created, object.deleted';
  END IF;
  schema_name := CASE WHEN n = 3 THEN parts[1] ELSE 'public' END;
  table_name := parts[n - 1];
  IF schema_name IN ('bknd', 'pg_catalog', 'information_schema') OR schema_name LIKE 'pg\_%' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('webhook event %L: tables in schema %s cannot be watched', event, schema_name);
  END IF;
  rel := to_regclass(format('%I.%I', schema_name, table_name));
  IF rel IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42P01', MESSAGE = format('webhook event %L: table %I.%I does not exist', event, schema_name, table_name);
  END IF;
  IF (SELECT relkind FROM pg_class WHERE oid = rel) <> 'r' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('webhook event %L: %s is not a plain table', event, rel),
      HINT = 'views and partitioned tables cannot be watched yet; a partition can';
  END IF;
  -- a webhook sends whole rows: only of tables service_role may read
  IF NOT has_table_privilege('service_role', rel, 'SELECT') THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('webhook event %L: service_role may not read %s', event, rel);
  END IF;
  RETURN CASE WHEN schema_name = 'public' THEN '' ELSE schema_name || '.' END || table_name || '.' || op;
END $$;

-- The tables `events` name, as regclass.
CREATE FUNCTION bknd.webhook_event_tables(events text[]) RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT DISTINCT to_regclass(format('%I.%I', CASE WHEN cardinality(p) = 3 THEN p[1] ELSE 'public' END, p[cardinality(p) - 1]))
  FROM (SELECT string_to_array(e, '.') AS p FROM unnest(events) e
        WHERE e NOT IN ('user.created', 'user.signed_in', 'user.updated', 'user.deleted', 'object.created', 'object.deleted')) x
$$;

-- Put the capture trigger on every table an endpoint names and take it off the others.
CREATE FUNCTION bknd.webhook_sync_triggers() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regclass;
BEGIN
  FOR t IN
    SELECT DISTINCT x FROM bknd.webhooks w, LATERAL bknd.webhook_event_tables(w.events) x WHERE x IS NOT NULL
    EXCEPT
    SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'bknd_webhooks' AND NOT tgisinternal AND tgparentid = 0
  LOOP
    EXECUTE format('CREATE TRIGGER bknd_webhooks AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION bknd.webhook_capture()', t);
  END LOOP;
  FOR t IN
    SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'bknd_webhooks' AND NOT tgisinternal AND tgparentid = 0
      AND tgfoid = 'bknd.webhook_capture()'::regprocedure
    EXCEPT
    SELECT DISTINCT x FROM bknd.webhooks w, LATERAL bknd.webhook_event_tables(w.events) x WHERE x IS NOT NULL
  LOOP
    EXECUTE format('DROP TRIGGER bknd_webhooks ON %s', t);
  END LOOP;
END $$;

-- Capture ---------------------------------------------------------------------------------

-- When an event happened, as payloads say it.
CREATE FUNCTION bknd.webhook_timestamp() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- A new event id (the webhook-id header).
CREATE FUNCTION bknd.webhook_event_id() RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT 'msg_' || replace(gen_random_uuid()::text, '-', '') $$;

-- A payload over 256 KiB is sent thin: the rows' primary keys only, and "thin": true.
CREATE FUNCTION bknd.webhook_thin(rel regclass, row_json jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN row_json IS NULL THEN NULL ELSE (
    SELECT coalesce(jsonb_object_agg(a.attname, row_json -> a.attname::text), '{}')
    FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
    WHERE i.indrelid = rel AND i.indisprimary) END
$$;

-- The trigger on a table an endpoint names (bknd_webhooks). It runs as whoever wrote the row,
-- so to_jsonb, which calls any cast to json a column's type has, runs with the writer's rights
-- and never the extension owner's; bknd.webhook_log_change logs it.
CREATE FUNCTION bknd.webhook_capture() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM bknd.webhook_log_change(TG_RELID, TG_OP, to_jsonb(NEW), to_jsonb(OLD));
  RETURN NULL;
END $$;

-- Log a change for every endpoint that wants it, in one statement (none: nothing but that
-- statement runs). For bknd_webhooks triggers only: any role's writes reach it, so it checks
-- that it is called by a trigger, and that the table is watched.
CREATE FUNCTION bknd.webhook_log_change(rel regclass, op text, new_row jsonb, old_row jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  schema_name text;
  table_name text;
  prefix text;
  event_type text;
  thin boolean := false;
  -- one event, one id, whichever endpoints it goes to
  event_id text := 'msg_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
  IF pg_trigger_depth() < 1 OR NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname = 'bknd_webhooks') THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'bknd.webhook_log_change is for the bknd_webhooks trigger';
  END IF;
  SELECT n.nspname, c.relname INTO schema_name, table_name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
  prefix := CASE WHEN schema_name = 'public' THEN '' ELSE schema_name || '.' END || table_name;
  event_type := prefix || '.' || lower(op);
  -- past 256 KiB, the keys only (the size in storage is a cheap first look, allowing for the
  -- text's escapes; the text is exact)
  IF coalesce(pg_column_size(new_row), 0) + coalesce(pg_column_size(old_row), 0) > 43690
     AND coalesce(octet_length(new_row::text), 0) + coalesce(octet_length(old_row::text), 0) > 261120 THEN
    new_row := bknd.webhook_thin(rel, new_row);
    old_row := bknd.webhook_thin(rel, old_row);
    thin := true;
  END IF;
  INSERT INTO bknd.webhook_deliveries (event_id, webhook_id, event_type, payload)
  SELECT event_id, w.id, event_type, CASE
    WHEN w.format = 'supabase' THEN jsonb_build_object('type', op, 'table', table_name, 'schema', schema_name,
      'record', new_row, 'old_record', old_row) || CASE WHEN thin THEN '{"thin": true}'::jsonb ELSE '{}'::jsonb END
    ELSE jsonb_build_object('type', event_type, 'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'data', jsonb_build_object('schema', schema_name, 'table', table_name, 'record', new_row, 'old_record', old_row)
              || CASE WHEN thin THEN '{"thin": true}'::jsonb ELSE '{}'::jsonb END) END
  FROM bknd.webhooks w
  WHERE w.enabled AND w.events && ARRAY[event_type, prefix || '.*'];
  IF FOUND THEN
    PERFORM pg_notify('bknd_webhook', '');
  END IF;
END $$;

-- A user as webhooks show it: never a password hash, a token or a factor.
CREATE FUNCTION bknd.webhook_user(u bknd.users) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('id', u.id, 'email', u.email, 'role', u.role, 'email_confirmed_at', u.email_confirmed_at,
    'app_metadata', u.app_metadata, 'user_metadata', u.user_metadata, 'banned_until', u.banned_until,
    'last_sign_in_at', u.last_sign_in_at, 'is_anonymous', u.is_anonymous, 'created_at', u.created_at,
    'updated_at', u.updated_at)
$$;

-- Log a user or object event whose data is `data` (sent thin past 256 KiB: its id only).
CREATE FUNCTION bknd.webhook_emit(event_type text, data jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  payload jsonb := jsonb_build_object('type', event_type, 'timestamp', bknd.webhook_timestamp(), 'data', data);
  event_id text := bknd.webhook_event_id();
BEGIN
  IF octet_length(payload::text) > 262144 THEN
    payload := jsonb_set(payload, '{data}', jsonb_strip_nulls(jsonb_build_object(
      'user', CASE WHEN data ? 'user' THEN jsonb_build_object('id', data #> '{user,id}') END,
      'object', CASE WHEN data ? 'object' THEN jsonb_build_object('id', data #> '{object,id}') END,
      'thin', true)));
  END IF;
  INSERT INTO bknd.webhook_deliveries (event_id, webhook_id, event_type, payload)
  SELECT event_id, w.id, event_type, payload
  FROM bknd.webhooks w
  WHERE w.enabled AND event_type = ANY (w.events);
  IF FOUND THEN
    PERFORM pg_notify('bknd_webhook', '');
  END IF;
END $$;

-- user.created, user.updated, user.deleted (bknd.users) and user.signed_in (bknd.sessions).
CREATE FUNCTION bknd.webhook_capture_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  event_type text := CASE
    WHEN TG_TABLE_NAME = 'sessions' THEN 'user.signed_in'
    WHEN TG_OP = 'INSERT' THEN 'user.created'
    WHEN TG_OP = 'UPDATE' THEN 'user.updated'
    ELSE 'user.deleted' END;
  u bknd.users;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM bknd.webhooks w WHERE w.enabled AND event_type = ANY (w.events)) THEN
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'sessions' THEN
    SELECT * INTO u FROM bknd.users WHERE id = NEW.user_id;
    PERFORM bknd.webhook_emit(event_type, jsonb_build_object('user', bknd.webhook_user(u), 'session',
      jsonb_build_object('id', NEW.id, 'aal', NEW.aal, 'amr', NEW.amr, 'created_at', NEW.created_at)));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM bknd.webhook_emit(event_type, jsonb_build_object('user', bknd.webhook_user(OLD)));
  ELSE
    PERFORM bknd.webhook_emit(event_type, jsonb_build_object('user', bknd.webhook_user(NEW)));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bknd_webhooks_insert_delete AFTER INSERT OR DELETE ON bknd.users
  FOR EACH ROW EXECUTE FUNCTION bknd.webhook_capture_user();
-- what a user is, not when they last signed in or asked for a code
CREATE TRIGGER bknd_webhooks_update AFTER UPDATE ON bknd.users FOR EACH ROW
  WHEN ((OLD.email, OLD.email_confirmed_at, OLD.role, OLD.app_metadata, OLD.user_metadata, OLD.banned_until,
         OLD.is_anonymous, OLD.password_hash)
        IS DISTINCT FROM
        (NEW.email, NEW.email_confirmed_at, NEW.role, NEW.app_metadata, NEW.user_metadata, NEW.banned_until,
         NEW.is_anonymous, NEW.password_hash))
  EXECUTE FUNCTION bknd.webhook_capture_user();
CREATE TRIGGER bknd_webhooks_signed_in AFTER INSERT ON bknd.sessions
  FOR EACH ROW EXECUTE FUNCTION bknd.webhook_capture_user();

-- object.created (an upload finished: the row became ready) and object.deleted (a ready
-- object went, except the one an upload replaced: that is the new object's creation).
CREATE FUNCTION bknd.webhook_capture_object() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o bknd.objects;
  event_type text := CASE WHEN TG_OP = 'DELETE' THEN 'object.deleted' ELSE 'object.created' END;
BEGIN
  IF TG_OP = 'DELETE' THEN o := OLD; ELSE o := NEW; END IF;
  IF TG_OP = 'DELETE' AND coalesce(current_setting('bknd.object_replacing', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM bknd.webhooks w WHERE w.enabled AND event_type = ANY (w.events)) THEN
    RETURN NULL;
  END IF;
  PERFORM bknd.webhook_emit(event_type, jsonb_build_object('object', jsonb_build_object('id', o.id,
    'bucket_id', o.bucket_id, 'name', o.name, 'owner_id', o.owner_id, 'size', o.size, 'mime_type', o.mime_type,
    'etag', o.etag, 'user_metadata', o.user_metadata, 'created_at', o.created_at, 'updated_at', o.updated_at)));
  RETURN NULL;
END $$;

CREATE TRIGGER bknd_webhooks_inserted AFTER INSERT ON bknd.objects FOR EACH ROW
  WHEN (NEW.status = 'ready') EXECUTE FUNCTION bknd.webhook_capture_object();
CREATE TRIGGER bknd_webhooks_ready AFTER UPDATE OF status ON bknd.objects FOR EACH ROW
  WHEN (OLD.status <> 'ready' AND NEW.status = 'ready') EXECUTE FUNCTION bknd.webhook_capture_object();
CREATE TRIGGER bknd_webhooks_deleted AFTER DELETE ON bknd.objects FOR EACH ROW
  WHEN (OLD.status = 'ready') EXECUTE FUNCTION bknd.webhook_capture_object();

-- Managing endpoints (service_role) ---------------------------------------------------------

-- An endpoint as list_webhooks shows it: never its secret.
CREATE FUNCTION bknd.webhook_json(w bknd.webhooks) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('id', w.id, 'name', w.name, 'url', w.url, 'events', to_jsonb(w.events), 'format', w.format,
    'headers', w.headers, 'enabled', w.enabled, 'disabled_reason', w.disabled_reason,
    'previous_secret_until', CASE WHEN w.previous_secret_until > now() THEN w.previous_secret_until END,
    'created_at', w.created_at, 'updated_at', w.updated_at)
$$;

-- Check a URL: http or https, a host, no spaces or fragment, at most 2048 characters. Whether
-- the sidecar may reach it (https, no private address unless allowed) is decided when it sends.
CREATE FUNCTION bknd.webhook_check_url(url text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF url IS NULL OR length(url) > 2048 OR url !~ '^https?://[^/?#@[:space:][:cntrl:]]+(:[0-9]{1,5})?([/?][^#[:space:][:cntrl:]]*)?$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('invalid webhook url %L', url),
      HINT = 'an http:// or https:// URL with a host, without credentials, spaces or a #fragment, at most 2048 characters';
  END IF;
  RETURN url;
END $$;

CREATE FUNCTION bknd.webhook_check_events(events text[]) RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  checked text[];
BEGIN
  IF events IS NULL OR cardinality(events) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a webhook needs at least one event';
  END IF;
  SELECT array_agg(DISTINCT bknd.webhook_event_name(e) ORDER BY bknd.webhook_event_name(e)) INTO checked FROM unnest(events) e;
  RETURN checked;
END $$;

-- Extra headers: names as HTTP has them, values without line breaks; never the ones bknd sets.
CREATE FUNCTION bknd.webhook_check_headers(headers jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
BEGIN
  IF headers IS NULL OR jsonb_typeof(headers) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook option "headers" must be an object of header names and string values';
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(headers) LOOP
    IF k !~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]{1,64}$' OR jsonb_typeof(v) <> 'string' OR length(v #>> '{}') > 4096
       OR (v #>> '{}') !~ '^[ -~]*$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('invalid webhook header %L', k),
        HINT = 'a header name is a token of at most 64 characters; its value a string of printable ASCII, at most 4096 characters';
    END IF;
    IF lower(k) IN ('webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type', 'content-length', 'host',
                    'transfer-encoding', 'connection', 'user-agent') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('webhook header %L is set by bknd', k);
    END IF;
  END LOOP;
  RETURN headers;
END $$;

CREATE FUNCTION bknd.webhook_by_name(name text) RETURNS bknd.webhooks
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w bknd.webhooks;
BEGIN
  SELECT * INTO w FROM bknd.webhooks x WHERE x.name = webhook_by_name.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('webhook %L not found', name);
  END IF;
  RETURN w;
END $$;

CREATE FUNCTION bknd.create_webhook(name text, url text, events text[], options jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w bknd.webhooks;
  unknown text;
BEGIN
  IF name IS NULL OR name !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('invalid webhook name %L', name),
      HINT = 'letters, digits, _ . - (starting with a letter or digit), at most 63 characters';
  END IF;
  options := coalesce(options, '{}');
  IF jsonb_typeof(options) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook options must be a JSON object';
  END IF;
  SELECT k INTO unknown FROM jsonb_object_keys(options) k WHERE k NOT IN ('format', 'headers', 'enabled') LIMIT 1;
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown webhook option %L', unknown),
      HINT = 'options: format (standard or supabase), headers (an object), enabled (a boolean)';
  END IF;
  IF options ? 'format' AND coalesce(options ->> 'format', '') NOT IN ('standard', 'supabase') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown webhook format %s', options -> 'format'),
      HINT = 'format is "standard" (Standard Webhooks) or "supabase" (as Supabase database webhooks)';
  END IF;
  IF options ? 'enabled' AND jsonb_typeof(options -> 'enabled') <> 'boolean' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook option "enabled" must be true or false';
  END IF;
  IF EXISTS (SELECT 1 FROM bknd.webhooks x WHERE x.name = create_webhook.name) THEN
    RAISE EXCEPTION USING ERRCODE = '23505', MESSAGE = format('a webhook named %L already exists', name);
  END IF;
  INSERT INTO bknd.webhooks (name, url, events, format, headers, enabled, secret)
  VALUES (name, bknd.webhook_check_url(url), bknd.webhook_check_events(events), coalesce(options ->> 'format', 'standard'),
          bknd.webhook_check_headers(coalesce(options -> 'headers', '{}')), coalesce((options ->> 'enabled')::boolean, true),
          bknd.webhook_new_secret())
  RETURNING * INTO w;
  PERFORM bknd.webhook_sync_triggers();
  RETURN bknd.webhook_json(w) || jsonb_build_object('secret', w.secret);
END $$;

CREATE FUNCTION bknd.list_webhooks() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_agg(bknd.webhook_json(w) || jsonb_build_object(
      'pending', (SELECT count(*) FROM bknd.webhook_deliveries d WHERE d.webhook_id = w.id AND d.status IN ('pending', 'failed')))
    ORDER BY w.name), '[]')
  FROM bknd.webhooks w
$$;

CREATE FUNCTION bknd.update_webhook(name text, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w bknd.webhooks := bknd.webhook_by_name(name);
  unknown text;
BEGIN
  IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook changes must be a JSON object';
  END IF;
  SELECT k INTO unknown FROM jsonb_object_keys(changes) k WHERE k NOT IN ('name', 'url', 'events', 'format', 'headers', 'enabled') LIMIT 1;
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('webhook field %L cannot be changed', unknown),
      HINT = 'changeable: name, url, events, format, headers, enabled (the secret: bknd.rotate_webhook_secret)';
  END IF;
  IF changes ? 'name' THEN
    IF coalesce(changes ->> 'name', '') !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('invalid webhook name %s', changes -> 'name');
    END IF;
    IF changes ->> 'name' <> w.name AND EXISTS (SELECT 1 FROM bknd.webhooks x WHERE x.name = changes ->> 'name') THEN
      RAISE EXCEPTION USING ERRCODE = '23505', MESSAGE = format('a webhook named %L already exists', changes ->> 'name');
    END IF;
    w.name := changes ->> 'name';
  END IF;
  IF changes ? 'url' THEN w.url := bknd.webhook_check_url(changes ->> 'url'); END IF;
  IF changes ? 'events' THEN
    IF jsonb_typeof(changes -> 'events') <> 'array' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook "events" must be an array of event names';
    END IF;
    w.events := bknd.webhook_check_events(ARRAY(SELECT jsonb_array_elements_text(changes -> 'events')));
  END IF;
  IF changes ? 'format' THEN
    IF coalesce(changes ->> 'format', '') NOT IN ('standard', 'supabase') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown webhook format %s', changes -> 'format');
    END IF;
    w.format := changes ->> 'format';
  END IF;
  IF changes ? 'headers' THEN w.headers := bknd.webhook_check_headers(changes -> 'headers'); END IF;
  IF changes ? 'enabled' THEN
    IF jsonb_typeof(changes -> 'enabled') <> 'boolean' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'webhook "enabled" must be true or false';
    END IF;
    w.enabled := (changes ->> 'enabled')::boolean;
    IF w.enabled THEN w.disabled_reason := NULL; END IF;
  END IF;
  UPDATE bknd.webhooks x SET name = w.name, url = w.url, events = w.events, format = w.format, headers = w.headers,
    enabled = w.enabled, disabled_reason = w.disabled_reason, updated_at = now()
  WHERE x.id = w.id RETURNING * INTO w;
  PERFORM bknd.webhook_sync_triggers();
  RETURN bknd.webhook_json(w);
END $$;

CREATE FUNCTION bknd.delete_webhook(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM bknd.webhooks w WHERE w.id = (bknd.webhook_by_name(delete_webhook.name)).id;
  PERFORM bknd.webhook_sync_triggers();
  RETURN true;
END $$;

-- A new secret; the one before is signed with too for 24 hours, so receivers can switch.
CREATE FUNCTION bknd.rotate_webhook_secret(name text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w bknd.webhooks := bknd.webhook_by_name(name);
BEGIN
  UPDATE bknd.webhooks x SET previous_secret = x.secret, previous_secret_until = now() + interval '24 hours',
    secret = bknd.webhook_new_secret(), updated_at = now()
  WHERE x.id = w.id RETURNING * INTO w;
  RETURN jsonb_build_object('name', w.name, 'secret', w.secret, 'previous_secret_until', w.previous_secret_until);
END $$;

-- Send a webhook.test event to one endpoint (whatever events it is subscribed to).
CREATE FUNCTION bknd.test_webhook(name text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w bknd.webhooks := bknd.webhook_by_name(name);
  d bknd.webhook_deliveries;
BEGIN
  IF NOT w.enabled THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = format('webhook %L is disabled', name),
      HINT = coalesce(w.disabled_reason || '; ', '') || 'enable it with bknd.update_webhook(name, ''{"enabled": true}'')';
  END IF;
  INSERT INTO bknd.webhook_deliveries (event_id, webhook_id, event_type, payload)
  VALUES (bknd.webhook_event_id(), w.id, 'webhook.test', jsonb_build_object('type', 'webhook.test',
    'timestamp', bknd.webhook_timestamp(), 'data', jsonb_build_object('webhook', w.name)))
  RETURNING * INTO d;
  PERFORM pg_notify('bknd_webhook', '');
  RETURN jsonb_build_object('delivery_id', d.id, 'event_id', d.event_id);
END $$;

-- Send an event again, as a new attempt group with the same event id.
CREATE FUNCTION bknd.resend_webhook_delivery(delivery_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d bknd.webhook_deliveries;
  w bknd.webhooks;
BEGIN
  SELECT * INTO d FROM bknd.webhook_deliveries x WHERE x.id = delivery_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('webhook delivery %s not found', delivery_id);
  END IF;
  SELECT * INTO w FROM bknd.webhooks x WHERE x.id = d.webhook_id;
  IF NOT w.enabled THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = format('webhook %L is disabled', w.name),
      HINT = coalesce(w.disabled_reason || '; ', '') || 'enable it with bknd.update_webhook(name, ''{"enabled": true}'')';
  END IF;
  INSERT INTO bknd.webhook_deliveries (event_id, webhook_id, event_type, payload)
  VALUES (d.event_id, d.webhook_id, d.event_type, d.payload)
  RETURNING * INTO d;
  PERFORM pg_notify('bknd_webhook', '');
  RETURN jsonb_build_object('delivery_id', d.id, 'event_id', d.event_id);
END $$;

-- The delivery log, newest first: one endpoint's (by name) or all, one status or all, at most
-- `max_rows` (200 at most). What service_role reads in MCP and, later, the console.
CREATE FUNCTION bknd.webhook_deliveries_of(name text DEFAULT NULL, status text DEFAULT NULL, max_rows integer DEFAULT 50) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  hook uuid;
BEGIN
  IF name IS NOT NULL THEN hook := (bknd.webhook_by_name(name)).id; END IF;
  IF status IS NOT NULL AND status NOT IN ('pending', 'delivered', 'failed', 'dead') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown delivery status %L', status),
      HINT = 'pending, delivered, failed or dead';
  END IF;
  RETURN (
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'event_id', d.event_id, 'webhook', w.name,
        'event_type', d.event_type, 'status', d.status, 'attempts', d.attempts, 'last_status', d.last_status,
        'last_error', d.last_error, 'latency_ms', d.latency_ms, 'next_attempt_at', d.next_attempt_at,
        'last_attempt_at', d.last_attempt_at, 'delivered_at', d.delivered_at, 'created_at', d.created_at,
        'payload', d.payload) ORDER BY d.id DESC), '[]')
    FROM (SELECT * FROM bknd.webhook_deliveries x
          WHERE (hook IS NULL OR x.webhook_id = hook) AND (webhook_deliveries_of.status IS NULL OR x.status = webhook_deliveries_of.status)
          ORDER BY x.id DESC LIMIT least(greatest(coalesce(max_rows, 50), 1), 200)) d
    JOIN bknd.webhooks w ON w.id = d.webhook_id);
END $$;

-- The sidecar's ------------------------------------------------------------------------------

-- Claim up to `max_total` due deliveries for `worker` (at most `per_endpoint` in flight per
-- endpoint, counting those already out), for `lease_seconds`. A claim is free again when its
-- lease ran out or its worker is gone: each sidecar keeps a connection named
-- 'bknd webhooks <worker>' open while it lives, so a killed sidecar's deliveries are taken up
-- at once by the next claim, with the same event id. Answers what to send, signed now.
-- (No JIT: the planner's guesses for the tiny endpoints table make the claim look costly, and
-- compiling it took 40 ms of a claim's 41.)
CREATE FUNCTION bknd.webhook_claim(worker text, max_total integer, per_endpoint integer, lease_seconds integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
AS $$
DECLARE
  alive text[] := ARRAY(SELECT substr(a.application_name, 15) FROM pg_stat_activity a
                        WHERE a.application_name LIKE 'bknd webhooks %');
  ts bigint := extract(epoch FROM now())::bigint;
  claimed jsonb;
BEGIN
  -- an eighth attempt whose sender vanished without a report: that was the last
  UPDATE bknd.webhook_deliveries x SET status = 'dead', next_attempt_at = NULL, claimed_by = NULL, claimed_until = NULL,
    last_error = coalesce(x.last_error || '; ', '') || 'the last attempt was never reported'
  WHERE x.claimed_by IS NOT NULL AND x.status IN ('pending', 'failed') AND x.attempts >= 8
    AND (x.claimed_until < now() OR NOT x.claimed_by = ANY (alive));
  WITH picked AS (
    SELECT d.id FROM bknd.webhooks w
    CROSS JOIN LATERAL (
      SELECT x.id FROM bknd.webhook_deliveries x
      WHERE x.webhook_id = w.id AND x.status IN ('pending', 'failed') AND x.next_attempt_at <= now()
        AND (x.claimed_by IS NULL OR x.claimed_until < now() OR NOT x.claimed_by = ANY (alive)) AND x.attempts < 8
      ORDER BY x.next_attempt_at, x.id
      LIMIT greatest(per_endpoint - (SELECT count(*) FROM bknd.webhook_deliveries b
                                     WHERE b.webhook_id = w.id AND b.claimed_by IS NOT NULL
                                       AND b.claimed_until >= now() AND b.claimed_by = ANY (alive)), 0)
      FOR UPDATE OF x SKIP LOCKED
    ) d
    WHERE w.enabled
    ORDER BY d.id
    LIMIT greatest(max_total, 0)
  ), taken AS (
    -- the attempt counts from here: a report that never comes still uses one up
    UPDATE bknd.webhook_deliveries d SET claimed_by = worker, claimed_until = now() + make_interval(secs => lease_seconds),
      last_attempt_at = now(), attempts = d.attempts + 1
    FROM picked WHERE d.id = picked.id
    RETURNING d.*
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'event_id', t.event_id, 'url', w.url, 'headers', w.headers,
      'body', t.payload::text, 'timestamp', ts, 'attempt', t.attempts,
      'signature', bknd.webhook_signature(
        CASE WHEN w.previous_secret_until > now() THEN ARRAY[w.secret, w.previous_secret] ELSE ARRAY[w.secret] END,
        t.event_id || '.' || ts || '.' || t.payload::text)) ORDER BY t.id), '[]')
  INTO claimed
  FROM taken t JOIN bknd.webhooks w ON w.id = t.webhook_id;
  RETURN claimed;
END $$;

-- The Standard Webhooks retry schedule after the n-th failed attempt (then dead).
CREATE FUNCTION bknd.webhook_retry_delay(failed_attempts integer) RETURNS interval
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (ARRAY[interval '5 seconds', interval '5 minutes', interval '30 minutes', interval '2 hours',
                interval '5 hours', interval '10 hours', interval '10 hours'])[failed_attempts]
$$;

-- Record an attempt of `worker`'s: the HTTP status (NULL when none came: `error` says why), how
-- long it took, and the receiver's Retry-After in seconds if it sent one. A 2xx delivers; 410
-- disables the endpoint; anything else is retried on the schedule (or after Retry-After, at
-- most a day), with jitter, and the eighth failure is the last. Answers the new status.
CREATE FUNCTION bknd.webhook_result(delivery_id bigint, worker text, http_status integer, error text, latency_ms integer,
                                    retry_after_seconds integer DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  d bknd.webhook_deliveries;
  failures integer;
  delay interval;
BEGIN
  SELECT * INTO d FROM bknd.webhook_deliveries x WHERE x.id = delivery_id FOR UPDATE;
  -- a claim that was taken over (this worker was thought gone) is the new holder's to report
  IF NOT FOUND OR d.status NOT IN ('pending', 'failed') OR d.claimed_by IS DISTINCT FROM worker THEN
    RETURN coalesce(d.status, 'unknown');
  END IF;
  failures := d.attempts;
  IF http_status BETWEEN 200 AND 299 THEN
    UPDATE bknd.webhook_deliveries SET status = 'delivered', last_status = http_status,
      last_error = NULL, latency_ms = webhook_result.latency_ms, delivered_at = now(), next_attempt_at = NULL,
      claimed_by = NULL, claimed_until = NULL
    WHERE id = delivery_id;
    RETURN 'delivered';
  END IF;
  IF http_status = 410 THEN
    UPDATE bknd.webhooks SET enabled = false, updated_at = now(),
      disabled_reason = format('the endpoint answered 410 Gone at %s', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'))
    WHERE id = d.webhook_id;
  END IF;
  delay := CASE
    WHEN http_status = 410 OR failures >= 8 THEN NULL
    WHEN retry_after_seconds IS NOT NULL THEN make_interval(secs => least(greatest(retry_after_seconds, 1), 86400))
    ELSE bknd.webhook_retry_delay(failures) * (0.9 + random() * 0.2) END;
  UPDATE bknd.webhook_deliveries SET status = CASE WHEN delay IS NULL THEN 'dead' ELSE 'failed' END,
    last_status = http_status, last_error = left(coalesce(error, format('HTTP %s', http_status)), 1000),
    latency_ms = webhook_result.latency_ms, next_attempt_at = now() + delay, claimed_by = NULL, claimed_until = NULL
  WHERE id = delivery_id;
  RETURN CASE WHEN delay IS NULL THEN 'dead' ELSE 'failed' END;
END $$;

-- Forget delivered and dead deliveries older than `keep` (the sidecar's sweeper).
CREATE FUNCTION bknd.webhook_prune(keep interval DEFAULT '7 days') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM bknd.webhook_deliveries WHERE status IN ('delivered', 'dead') AND created_at < now() - keep;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

REVOKE EXECUTE ON FUNCTION
  bknd.webhook_event_name(text),
  bknd.webhook_event_tables(text[]),
  bknd.webhook_sync_triggers(),
  bknd.webhook_timestamp(),
  bknd.webhook_event_id(),
  bknd.webhook_thin(regclass, jsonb),
  bknd.webhook_capture(),
  bknd.webhook_log_change(regclass, text, jsonb, jsonb),
  bknd.webhook_user(bknd.users),
  bknd.webhook_emit(text, jsonb),
  bknd.webhook_capture_user(),
  bknd.webhook_capture_object(),
  bknd.webhook_json(bknd.webhooks),
  bknd.webhook_check_url(text),
  bknd.webhook_check_events(text[]),
  bknd.webhook_check_headers(jsonb),
  bknd.webhook_by_name(text),
  bknd.create_webhook(text, text, text[], jsonb),
  bknd.list_webhooks(),
  bknd.update_webhook(text, jsonb),
  bknd.delete_webhook(text),
  bknd.rotate_webhook_secret(text),
  bknd.test_webhook(text),
  bknd.resend_webhook_delivery(bigint),
  bknd.webhook_deliveries_of(text, text, integer),
  bknd.webhook_claim(text, integer, integer, integer),
  bknd.webhook_retry_delay(integer),
  bknd.webhook_result(bigint, text, integer, text, integer, integer),
  bknd.webhook_prune(interval),
  bknd.webhook_new_secret(),
  bknd.webhook_signature(text[], text)
FROM PUBLIC;
-- webhooks: endpoints are service_role's; claiming, reporting and pruning deliveries the
-- sidecar's (which is handed signatures, never a secret)
GRANT EXECUTE ON FUNCTION bknd.create_webhook(text, text, text[], jsonb), bknd.list_webhooks(),
  bknd.update_webhook(text, jsonb), bknd.delete_webhook(text), bknd.rotate_webhook_secret(text),
  bknd.test_webhook(text), bknd.resend_webhook_delivery(bigint), bknd.webhook_deliveries_of(text, text, integer)
TO service_role;
GRANT EXECUTE ON FUNCTION bknd.webhook_claim(text, integer, integer, integer),
  bknd.webhook_result(bigint, text, integer, text, integer, integer), bknd.webhook_prune(interval)
TO authenticator;
GRANT EXECUTE ON FUNCTION bknd.webhook_log_change(regclass, text, jsonb, jsonb) TO PUBLIC;

-- == console == (as sql/console.sql), and src/auth/console.rs
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

CREATE FUNCTION bknd."console_add_member"("email" TEXT, "role" TEXT, "password" TEXT DEFAULT NULL) RETURNS jsonb
VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_add_member_wrapper';
CREATE FUNCTION bknd."console_set_password"("token" TEXT, "password" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_set_password_wrapper';
CREATE FUNCTION bknd."console_sign_in"("email" TEXT, "password" TEXT, "ip" TEXT DEFAULT NULL, "code" TEXT DEFAULT NULL) RETURNS jsonb
VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_sign_in_wrapper';
CREATE FUNCTION bknd."console_session"("token" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_session_wrapper';
CREATE FUNCTION bknd."console_sign_out"("token" TEXT) RETURNS bool
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_sign_out_wrapper';
CREATE FUNCTION bknd."console_has_members"() RETURNS bool
STRICT STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_has_members_wrapper';
CREATE FUNCTION bknd."console_claims"("session" TEXT, "view_as" TEXT DEFAULT NULL, "anon_role" TEXT DEFAULT 'anon') RETURNS jsonb
VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_claims_wrapper';
CREATE FUNCTION bknd."console_api_keys"("with_service_role" bool DEFAULT false) RETURNS jsonb
STRICT VOLATILE PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_api_keys_wrapper';
CREATE FUNCTION bknd."console_snippets"("session" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_snippets_wrapper';
CREATE FUNCTION bknd."console_save_snippet"("session" TEXT, "name" TEXT, "sql" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_save_snippet_wrapper';
CREATE FUNCTION bknd."console_record"("session" TEXT, "action" TEXT, "target" TEXT DEFAULT NULL, "detail" jsonb DEFAULT NULL) RETURNS bool
VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_record_wrapper';
CREATE FUNCTION bknd."console_delete_snippet"("session" TEXT, "id" uuid) RETURNS bool
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_delete_snippet_wrapper';
CREATE FUNCTION bknd."console_totp_begin"("session" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_totp_begin_wrapper';
CREATE FUNCTION bknd."console_totp_enable"("session" TEXT, "code" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_totp_enable_wrapper';
CREATE FUNCTION bknd."console_totp_disable"("session" TEXT, "code" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_totp_disable_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_add_member(text, text, text), bknd.console_set_password(text, text),
  bknd.console_sign_in(text, text, text, text), bknd.console_session(text), bknd.console_sign_out(text), bknd.console_has_members(),
  bknd.console_claims(text, text, text), bknd.console_api_keys(boolean), bknd.console_snippets(text),
  bknd.console_save_snippet(text, text, text), bknd.console_delete_snippet(text, uuid),
  bknd.console_record(text, text, text, jsonb), bknd.console_totp_begin(text), bknd.console_totp_enable(text, text),
  bknd.console_totp_disable(text, text)
FROM PUBLIC;
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

-- (console part 2) the Users screen's keyset pages and email-prefix search, and one user's
-- audit trail, stay fast at millions of rows
CREATE INDEX users_created_at_idx ON bknd.users (created_at, id);
CREATE INDEX users_email_prefix_idx ON bknd.users (lower(email) text_pattern_ops);
CREATE INDEX audit_log_user_id_idx ON bknd.audit_log (user_id, id);

CREATE FUNCTION bknd."admin_search_users"("search" TEXT DEFAULT NULL, "after" TEXT DEFAULT NULL, "max" INT DEFAULT 50) RETURNS jsonb
STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'admin_search_users_wrapper';
CREATE FUNCTION bknd."admin_user_detail"("id" TEXT) RETURNS jsonb
STRICT STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'admin_user_detail_wrapper';
CREATE FUNCTION bknd."admin_sign_out_user"("id" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'admin_sign_out_user_wrapper';
CREATE FUNCTION bknd."admin_remove_factors"("id" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'admin_remove_factors_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.admin_search_users(text, text, integer), bknd.admin_user_detail(text),
  bknd.admin_sign_out_user(text), bknd.admin_remove_factors(text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.admin_search_users(text, text, integer), bknd.admin_user_detail(text),
  bknd.admin_sign_out_user(text), bknd.admin_remove_factors(text)
TO service_role;
CREATE FUNCTION bknd."console_logs"("log" TEXT, "max" INT DEFAULT 100, "before" bigint DEFAULT NULL, "since" timestamp with time zone DEFAULT NULL, "until" timestamp with time zone DEFAULT NULL, "actor" TEXT DEFAULT NULL, "action" TEXT DEFAULT NULL) RETURNS jsonb
STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_logs_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_logs(text, integer, bigint, timestamptz, timestamptz, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.console_logs(text, integer, bigint, timestamptz, timestamptz, text, text) TO service_role;
CREATE FUNCTION bknd."console_team"() RETURNS jsonb
STRICT STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_team_wrapper';
CREATE FUNCTION bknd."console_invite_member"("email" TEXT, "role" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_invite_member_wrapper';
CREATE FUNCTION bknd."console_set_member_role"("id" TEXT, "role" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_set_member_role_wrapper';
CREATE FUNCTION bknd."console_remove_member"("id" TEXT) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_remove_member_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_team(), bknd.console_invite_member(text, text), bknd.console_set_member_role(text, text),
  bknd.console_remove_member(text) FROM PUBLIC;
-- the team, seen by every member and managed by owners (the functions check who acts)
GRANT EXECUTE ON FUNCTION bknd.console_team(), bknd.console_invite_member(text, text), bknd.console_set_member_role(text, text),
  bknd.console_remove_member(text)
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- configure_auth: console admins and owners may call it, so it runs as the extension's owner
-- and checks the session's role itself
ALTER FUNCTION bknd.configure_auth(jsonb) SECURITY DEFINER SET search_path TO pg_catalog, pg_temp;
CREATE FUNCTION bknd."console_auth_settings"() RETURNS jsonb
STRICT STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_auth_settings_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_auth_settings() FROM PUBLIC;
-- auth settings: console admins and owners manage them (the functions check the session's role)
GRANT EXECUTE ON FUNCTION bknd.configure_auth(jsonb), bknd.configure_oauth_provider(text, text, text, text, text, text, text, text, text, boolean),
  bknd.remove_oauth_provider(text)
TO bknd_console_owner, bknd_console_admin;
GRANT EXECUTE ON FUNCTION bknd.console_auth_settings()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
CREATE FUNCTION bknd."console_rotate_jwt_secret"() RETURNS bool
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_rotate_jwt_secret_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_rotate_jwt_secret() FROM PUBLIC;
-- a new JWT secret from the console: owners (the function checks the session's role)
GRANT EXECUTE ON FUNCTION bknd.console_rotate_jwt_secret()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
CREATE FUNCTION bknd."console_overview"() RETURNS jsonb
STRICT STABLE SECURITY DEFINER PARALLEL SAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'console_overview_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.console_overview() FROM PUBLIC;
-- the console's Home
GRANT EXECUTE ON FUNCTION bknd.console_overview()
TO bknd_console_owner, bknd_console_admin, bknd_console_developer, bknd_console_viewer;
-- (console part 2) a bucket's policies, listed and dropped one by one (service_role)
CREATE FUNCTION bknd."storage_policies"("bucket" TEXT) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'storage_policies_wrapper';
CREATE FUNCTION bknd."drop_storage_policy"("bucket" TEXT, "name" TEXT) RETURNS bool
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'drop_storage_policy_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.storage_policies(text), bknd.drop_storage_policy(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.storage_policies(text), bknd.drop_storage_policy(text, text) TO service_role;
-- (console part 2) requests answered per hour and surface, for the console's Home
CREATE TABLE bknd.request_stats (
  hour timestamptz NOT NULL,
  surface text NOT NULL,
  requests bigint NOT NULL DEFAULT 0,
  errors bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, surface)
);
ALTER TABLE bknd.request_stats ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.request_stats FROM PUBLIC;
CREATE FUNCTION bknd."record_requests"("counts" jsonb) RETURNS bigint
STRICT VOLATILE SECURITY DEFINER PARALLEL UNSAFE SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'record_requests_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.record_requests(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.record_requests(jsonb) TO authenticator;
-- the Logs screen's time ranges over the schema history
CREATE INDEX schema_history_at_idx ON bknd.schema_history (at);
-- (MCP for agents) get_context and get_advisors, as the caller
CREATE FUNCTION bknd."agent_context"("schemas" TEXT[]) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'agent_context_wrapper';
CREATE FUNCTION bknd."advisors"("schemas" TEXT[] DEFAULT ARRAY['public']) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'advisors_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.agent_context(text[]), bknd.advisors(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.agent_context(text[]), bknd.advisors(text[]) TO anon, authenticated, service_role;
CREATE FUNCTION bknd."api_schema"("schemas" TEXT[]) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'api_schema_wrapper';
REVOKE EXECUTE ON FUNCTION bknd.api_schema(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.api_schema(text[]) TO anon, authenticated, service_role;
-- a pending upload is continued only by a caller that may write (not a console viewer)
CREATE OR REPLACE FUNCTION bknd.storage_upload(upload_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- looked up only to write to it (its bytes, then the object, are written as the sidecar): a
  -- caller whose transactions are read-only (a console viewer, View as) continues no upload
  IF current_setting('transaction_read_only') = 'on' THEN
    RAISE EXCEPTION 'cannot continue an upload in a read-only transaction' USING ERRCODE = 'read_only_sql_transaction';
  END IF;
  RETURN (SELECT jsonb_build_object('id', o.id, 'version', o.version, 'bucket', o.bucket_id, 'name', o.name,
    'mime_type', o.mime_type, 'size_limit', (SELECT b.file_size_limit FROM bknd.buckets b WHERE b.id = o.bucket_id))
  FROM bknd.objects o WHERE o.id = upload_id AND o.status = 'pending');
END
$$;
-- (realtime) replay positions for database changes: each transaction's commit stamp, as the
-- sidecars first heard of it, is its changes' commit_timestamp and what a channel replays from
-- When each transaction with logged changes was first heard of as committed, in commit order
-- (the listener hears commits in that order): its changes' commit_timestamp and the position a
-- channel replays from. Written by the sidecars as they deliver (the first one wins), never on
-- the write path.
CREATE TABLE bknd.realtime_commits (
  xid xid8 PRIMARY KEY,
  committed_at timestamptz NOT NULL
);
CREATE INDEX realtime_commits_committed_idx ON bknd.realtime_commits (committed_at);
ALTER TABLE bknd.realtime_commits ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.realtime_commits FROM PUBLIC;

CREATE FUNCTION bknd.realtime_changes_json(ids bigint[]) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  WITH changes AS (
    SELECT o.ord, c.*, coalesce(k.committed_at, c.created_at) AS committed_at
    FROM unnest(ids) WITH ORDINALITY AS o(id, ord) JOIN bknd.realtime_changes c ON c.id = o.id
    LEFT JOIN bknd.realtime_commits k ON k.xid = c.xid
  ), tables AS (
    SELECT DISTINCT ch.schema_name, ch.table_name,
      (SELECT coalesce(jsonb_agg(jsonb_build_object('name', a.attname, 'type', t.typname) ORDER BY a.attnum), '[]')
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = to_regclass(format('%I.%I', ch.schema_name, ch.table_name)) AND a.attnum > 0 AND NOT a.attisdropped) AS columns
    FROM changes ch
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'xid', c.xid::text, 'schema', c.schema_name, 'table', c.table_name,
      'type', c.type, 'record', c.record, 'old_record', c.old_record, 'primary_key', c.primary_key,
      'deleted_row', c.deleted_row, 'columns', t.columns,
      'commit_timestamp', to_char(c.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'committed_ms', floor(extract(epoch FROM c.committed_at) * 1000)::bigint,
      'committed_at', c.committed_at)
    ORDER BY c.ord), '[]')
  FROM changes c JOIN tables t USING (schema_name, table_name)
$$;
CREATE OR REPLACE FUNCTION bknd.realtime_changes_in(xids text[]) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  base timestamptz;
BEGIN
  -- a stamp lost in a crash is made again when a listener connects (realtime_stamp_unheard), a
  -- little later, which a replay position still finds: so no wait for the disk here
  PERFORM set_config('synchronous_commit', 'off', true);
  -- one stamper at a time, and the base read after the lock: stamps never go backwards when
  -- two sidecars stamp at once
  PERFORM pg_advisory_xact_lock(hashtext('bknd.realtime_commits'));
  base := greatest(clock_timestamp(), (SELECT max(k.committed_at) + interval '1 microsecond' FROM bknd.realtime_commits k));
  INSERT INTO bknd.realtime_commits (xid, committed_at)
  SELECT x.xid::xid8, base + (x.ord - 1) * interval '1 microsecond'
  FROM unnest(xids) WITH ORDINALITY AS x(xid, ord)
  WHERE EXISTS (SELECT 1 FROM bknd.realtime_changes c WHERE c.xid = x.xid::xid8)
  ON CONFLICT (xid) DO NOTHING;
  RETURN bknd.realtime_changes_json(ARRAY(
    SELECT c.id FROM unnest(xids) WITH ORDINALITY AS x(xid, ord) JOIN bknd.realtime_changes c ON c.xid = x.xid::xid8
    ORDER BY x.ord, c.id));
END $$;
CREATE FUNCTION bknd.realtime_replay_changes(schema_name text, table_name text, since bigint, after_at timestamptz,
                                             after_id bigint, max_changes integer DEFAULT 500) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT bknd.realtime_changes_json(coalesce((
    SELECT array_agg(p.id ORDER BY p.committed_at, p.id) FROM (
      SELECT c.id, k.committed_at FROM bknd.realtime_commits k JOIN bknd.realtime_changes c ON c.xid = k.xid
      WHERE k.committed_at >= 'epoch'::timestamptz + since * interval '1 millisecond'
        AND c.schema_name = realtime_replay_changes.schema_name AND c.table_name = realtime_replay_changes.table_name
        AND (after_at IS NULL OR (k.committed_at, c.id) > (after_at, after_id))
      ORDER BY k.committed_at, c.id
      LIMIT least(greatest(max_changes, 1), 1000)) p), '{}'))
$$;
CREATE OR REPLACE FUNCTION bknd.realtime_prune(keep interval DEFAULT '1 hour') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  gone bigint;
  more bigint;
BEGIN
  DELETE FROM bknd.realtime_changes WHERE created_at < now() - keep;
  GET DIAGNOSTICS gone = ROW_COUNT;
  DELETE FROM bknd.realtime_commits WHERE committed_at < now() - keep;
  DELETE FROM bknd.realtime_messages WHERE inserted_at < now() - keep;
  GET DIAGNOSTICS more = ROW_COUNT;
  RETURN gone + more;
END $$;
-- Stamp the logged transactions no sidecar has heard of (committed while none listened, or
-- whose stamp a crash lost), in transaction id order, later than every stamp before: a
-- sidecar's listener does it whenever it connects, so a replay finds them. For the sidecar alone.
CREATE FUNCTION bknd.realtime_stamp_unheard() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  base timestamptz;
  stamped bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('bknd.realtime_commits'));
  base := greatest(clock_timestamp(), (SELECT max(k.committed_at) + interval '1 microsecond' FROM bknd.realtime_commits k));
  INSERT INTO bknd.realtime_commits (xid, committed_at)
  SELECT u.xid, base + (row_number() OVER (ORDER BY u.xid) - 1) * interval '1 microsecond'
  FROM (SELECT DISTINCT c.xid FROM bknd.realtime_changes c
        WHERE NOT EXISTS (SELECT 1 FROM bknd.realtime_commits k WHERE k.xid = c.xid)) u
  ON CONFLICT (xid) DO NOTHING;
  GET DIAGNOSTICS stamped = ROW_COUNT;
  RETURN stamped;
END $$;

REVOKE EXECUTE ON FUNCTION bknd.realtime_changes_json(bigint[]), bknd.realtime_stamp_unheard(),
  bknd.realtime_replay_changes(text, text, bigint, timestamptz, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.realtime_changes_json(bigint[]), bknd.realtime_stamp_unheard(),
  bknd.realtime_replay_changes(text, text, bigint, timestamptz, bigint, integer) TO authenticator;
-- (realtime) broadcasts whose payload is bytes
ALTER TABLE bknd.realtime_messages ADD COLUMN binary_payload bytea;
-- realtime_send_from for a broadcast whose payload is bytes (supabase-js sends an ArrayBuffer
-- payload as raw bytes): kept beside an empty JSON payload; as the caller, under the same
-- policies.
CREATE FUNCTION bknd.realtime_send_bytes(origin text, topic text, event text, payload bytea, private boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  sent bigint;
BEGIN
  PERFORM set_config('bknd.realtime_topic', topic, true);
  sent := nextval('bknd.realtime_messages_id_seq');
  INSERT INTO bknd.realtime_messages (id, topic, extension, event, payload, private, binary_payload)
  VALUES (sent, topic, 'broadcast', event, '{}', coalesce(private, false), coalesce(payload, ''::bytea));
  PERFORM pg_notify('bknd_realtime_message', sent::text || ' ' || coalesce(origin, ''));
  RETURN sent;
END $$;

CREATE OR REPLACE FUNCTION bknd.realtime_message(message_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('id', id, 'topic', topic, 'event', event, 'payload', payload, 'private', private,
    'binary', encode(binary_payload, 'base64'))
  FROM bknd.realtime_messages WHERE id = message_id
$$;
CREATE OR REPLACE FUNCTION bknd.realtime_replay(topic text, since timestamptz, max_messages integer DEFAULT 25) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM set_config('bknd.realtime_topic', topic, true);
  RETURN (
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', m.id, 'event', m.event, 'payload', m.payload,
        'binary', encode(m.binary_payload, 'base64')) ORDER BY m.id), '[]')
    FROM (SELECT r.id, r.event, r.payload, r.binary_payload FROM bknd.realtime_messages r
          WHERE r.topic = realtime_replay.topic AND r.private AND r.extension = 'broadcast' AND r.event <> ''
            AND r.inserted_at >= since
          ORDER BY r.id LIMIT least(greatest(max_messages, 0), 25)) m);
END $$;
REVOKE EXECUTE ON FUNCTION bknd.realtime_send_bytes(text, text, text, bytea, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bknd.realtime_send_bytes(text, text, text, bytea, boolean) TO anon, authenticated, service_role;

-- One expression with no FROM, so the planner inlines it: a policy's (SELECT bknd.uid()) and an
-- owner_id default do not parse and plan a function body again on every statement.
CREATE OR REPLACE FUNCTION bknd.uid() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN bknd.claims() ->> 'sub' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN (bknd.claims() ->> 'sub')::uuid END
$$;

-- The channel's name during a private channel's checks (as Supabase's realtime.topic()).
-- No SET clause, so the planner inlines it into a policy (with one, each call, once per row
-- checked, saved and restored the setting and ran the body anew); every name is qualified and
-- the comparison is pg_catalog's operator, so the caller's search_path cannot change it.
CREATE OR REPLACE FUNCTION bknd.realtime_topic() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN pg_catalog.current_setting('bknd.realtime_topic', true) OPERATOR(pg_catalog.=) '' THEN NULL
                  ELSE pg_catalog.current_setting('bknd.realtime_topic', true) END $$;
