-- bknd finalize: privileges on every function, and the first JWT secret.

-- Nothing in schema bknd is callable by PUBLIC unless granted below.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA bknd FROM PUBLIC;

-- Anyone: reading the current claims, verifying a token they hold, authenticating.
GRANT EXECUTE ON FUNCTION
  bknd.claims(), bknd.uid(), bknd.role(), bknd.email(), bknd.touch_updated_at(),
  bknd.jwt_verify(text), bknd.jwt_verify_text(text), bknd.authenticate(text, text, text, jsonb)
TO PUBLIC;

-- service_role: signing tokens and building the schema (superusers can always).
GRANT EXECUTE ON FUNCTION
  bknd.jwt_sign(jsonb, integer),
  bknd.create_table(text, jsonb, jsonb),
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
  bknd.policies(text)
TO service_role;

INSERT INTO bknd.secrets (name, value) VALUES ('jwt_secret', bknd.generate_secret());
