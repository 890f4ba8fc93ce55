BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT bknd.authenticate(NULL, 'GET', '/items', '{}', 'anon');
SELECT NULL::bigint AS total, pg_catalog.count(*) AS page_total, coalesce(pg_catalog.json_agg(_bknd_t), '[]'::json)::text AS body FROM (SELECT "t0"."id", "t0"."name", "t0"."price", "t0"."owner_id", "t0"."created_at", "t0"."updated_at" FROM "public"."items" AS "t0" ORDER BY "t0"."id" ASC LIMIT 20) _bknd_t;
COMMIT;
