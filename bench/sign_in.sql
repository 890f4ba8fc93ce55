BEGIN;
SELECT bknd.authenticate(NULL, 'POST', '/auth/v1/token', '{}', 'anon');
SELECT bknd.sign_in_password('bench@example.com', 'bench password 1', '127.0.0.1');
COMMIT;
