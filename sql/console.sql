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
  last_sign_in_at timestamptz
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

ALTER TABLE bknd.console_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE bknd.console_sessions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON bknd.console_members, bknd.console_tokens, bknd.console_sessions FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('bknd.console_members', '');
