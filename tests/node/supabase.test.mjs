// errand's /auth/v1 driven by the unmodified @supabase/supabase-js v2.
// Env: ERRAND_URL, ERRAND_ANON_KEY, ERRAND_SERVICE_KEY, ERRAND_REUSE_MS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const url = process.env.ERRAND_URL;
const anon = process.env.ERRAND_ANON_KEY;
const service = process.env.ERRAND_SERVICE_KEY;
const reuseMs = Number(process.env.ERRAND_REUSE_MS || 1000);
const opts = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } };
const client = (key = anon) => createClient(url, key, opts);
const email = (p) => `${p}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('sign up, sign in, session, user, setSession on a second client', async () => {
  const a = client();
  const addr = email('ada');
  const up = await a.auth.signUp({ email: addr, password: 'correct horse', options: { data: { name: 'Ada' } } });
  assert.equal(up.error, null);
  assert.ok(up.data.session, 'sign-up returns a session (auto-confirm)');
  assert.equal(up.data.user.email, addr);
  assert.equal(up.data.user.user_metadata.name, 'Ada');

  const dup = await a.auth.signUp({ email: addr, password: 'correct horse' });
  assert.equal(dup.error?.code, 'user_already_exists');

  const bad = await a.auth.signInWithPassword({ email: addr, password: 'wrong horse' });
  assert.equal(bad.error?.code, 'invalid_credentials');
  assert.equal(bad.error?.status, 400);

  const inn = await a.auth.signInWithPassword({ email: addr, password: 'correct horse' });
  assert.equal(inn.error, null);
  const { session } = inn.data;
  assert.ok(session.access_token && session.refresh_token && session.expires_in);

  const got = await a.auth.getSession();
  assert.equal(got.data.session.access_token, session.access_token);
  const me = await a.auth.getUser();
  assert.equal(me.error, null);
  assert.equal(me.data.user.email, addr);

  const b = client();
  const set = await b.auth.setSession({ access_token: session.access_token, refresh_token: session.refresh_token });
  assert.equal(set.error, null);
  assert.equal(set.data.user.id, me.data.user.id);
  const bme = await b.auth.getUser();
  assert.equal(bme.data.user.email, addr);

  const upd = await a.auth.updateUser({ data: { plan: 'pro' } });
  assert.equal(upd.error, null);
  assert.equal(upd.data.user.user_metadata.plan, 'pro');
  assert.equal(upd.data.user.user_metadata.name, 'Ada');
});

test('refreshSession rotates; reusing an old token revokes the family', async () => {
  const a = client();
  const addr = email('rot');
  const up = await a.auth.signUp({ email: addr, password: 'correct horse' });
  assert.equal(up.error, null);
  const r0 = up.data.session.refresh_token;
  const first = await a.auth.refreshSession();
  assert.equal(first.error, null);
  const r1 = first.data.session.refresh_token;
  assert.notEqual(r1, r0);
  const second = await a.auth.refreshSession();
  assert.equal(second.error, null);
  const r2 = second.data.session.refresh_token;
  assert.notEqual(r2, r1);

  await sleep(reuseMs + 300);
  const reuse = await client().auth.refreshSession({ refresh_token: r0 });
  assert.equal(reuse.error?.code, 'refresh_token_already_used');
  const after = await client().auth.refreshSession({ refresh_token: r2 });
  assert.ok(after.error, 'the current token of a revoked family no longer works');
});

test('signOut local keeps other sessions; global ends them all', async () => {
  const addr = email('out');
  await client().auth.signUp({ email: addr, password: 'correct horse' });
  const c1 = client();
  const c2 = client();
  const s1 = (await c1.auth.signInWithPassword({ email: addr, password: 'correct horse' })).data.session;
  const s2 = (await c2.auth.signInWithPassword({ email: addr, password: 'correct horse' })).data.session;

  assert.equal((await c1.auth.signOut({ scope: 'local' })).error, null);
  const gone = await client().auth.getUser(s1.access_token);
  assert.ok(gone.error, 'a logged-out session token is refused');
  assert.equal((await client().auth.getUser(s2.access_token)).error, null);

  assert.equal((await c2.auth.signOut()).error, null);
  assert.ok((await client().auth.getUser(s2.access_token)).error);
});

test('admin createUser, listUsers, deleteUser with the service key', async () => {
  const admin = client(service);
  const addr = email('adm');
  const created = await admin.auth.admin.createUser({ email: addr, password: 'correct horse', email_confirm: true });
  assert.equal(created.error, null);
  const id = created.data.user.id;
  const list = await admin.auth.admin.listUsers({ page: 1, perPage: 1000 });
  assert.equal(list.error, null);
  assert.ok(list.data.users.some((u) => u.id === id));
  const signIn = await client().auth.signInWithPassword({ email: addr, password: 'correct horse' });
  assert.equal(signIn.error, null);

  const denied = await client().auth.admin.listUsers();
  assert.ok(denied.error, 'the anon key cannot list users');

  const del = await admin.auth.admin.deleteUser(id);
  assert.equal(del.error, null);
  const again = await admin.auth.admin.listUsers({ page: 1, perPage: 1000 });
  assert.ok(!again.data.users.some((u) => u.id === id));
});
