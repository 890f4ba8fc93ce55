-- A user as GoTrue shows one. $1 = the user's id (text). The identities are read once.
SELECT jsonb_build_object(
  'id', u.id,
  'aud', 'authenticated',
  'role', u.role,
  'email', u.email,
  'email_confirmed_at', u.email_confirmed_at,
  'confirmed_at', u.email_confirmed_at,
  'phone', '',
  'last_sign_in_at', u.last_sign_in_at,
  'app_metadata', u.app_metadata || jsonb_build_object(
    'provider', coalesce(i.first_provider, 'email'),
    'providers', coalesce(i.providers, '["email"]'::jsonb)),
  'user_metadata', u.user_metadata,
  'identities', coalesce(i.list, '[]'::jsonb),
  'factors', coalesce((
    SELECT jsonb_agg(jsonb_build_object(
      'id', f.id, 'friendly_name', f.friendly_name, 'factor_type', f.factor_type, 'status', f.status,
      'created_at', f.created_at, 'updated_at', f.updated_at) ORDER BY f.created_at)
    FROM bknd.mfa_factors f WHERE f.user_id = u.id AND f.status = 'verified'), '[]'::jsonb),
  'banned_until', u.banned_until,
  'is_anonymous', u.is_anonymous,
  'created_at', u.created_at,
  'updated_at', u.updated_at
-- a pending email change, as GoTrue shows it (only while there is one). Read through
-- to_jsonb(u), not u.email_change: the 0.5.0 library serves a 0.4.0 schema until ALTER
-- EXTENSION UPDATE runs, and sign-up and sign-in (which answer this) must work meanwhile.
) || jsonb_strip_nulls(jsonb_build_object('new_email', to_jsonb(u) -> 'email_change',
                                          'email_change_sent_at', to_jsonb(u) -> 'email_change_sent_at'))
FROM bknd.users u
LEFT JOIN LATERAL (
  SELECT (array_agg(i.provider ORDER BY i.created_at))[1] AS first_provider,
         jsonb_agg(DISTINCT i.provider) AS providers,
         jsonb_agg(jsonb_build_object(
           'id', i.id, 'identity_id', i.id, 'user_id', i.user_id, 'provider', i.provider,
           'identity_data', i.identity_data, 'created_at', i.created_at, 'updated_at', i.updated_at,
           'last_sign_in_at', i.last_sign_in_at) ORDER BY i.created_at) AS list
  FROM bknd.identities i WHERE i.user_id = u.id
) i ON true
WHERE u.id = $1::uuid
