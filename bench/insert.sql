BEGIN;
SELECT bknd.authenticate(NULL, 'POST', '/items', '{}', 'anon');
INSERT INTO "public"."items" ("name", "price") VALUES ('bench', 9.5);
COMMIT;
