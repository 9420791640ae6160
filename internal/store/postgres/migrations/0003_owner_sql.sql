-- Acting on the database as a job's owner, the PostgREST way: an
-- "authenticated" role and auth.uid() reading the JWT claims of the
-- transaction. Existing definitions (a Supabase database) are kept.
CREATE SCHEMA IF NOT EXISTS auth;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'auth' AND p.proname = 'uid') THEN
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
      'SELECT nullif(coalesce(current_setting(''request.jwt.claim.sub'', true),
                              current_setting(''request.jwt.claims'', true)::jsonb ->> ''sub''), '''')::uuid';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
  EXECUTE 'GRANT authenticated TO ' || quote_ident(current_user);
  GRANT USAGE ON SCHEMA auth TO authenticated;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'errand: create the role "authenticated" and grant it to %, to run job SQL as its owner', current_user;
END
$$;
