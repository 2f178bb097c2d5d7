// The node's WebSocket and GraphQL endpoints, driven by real clients: `ws` and graphql-js.
// Run by node/tests/clients.rs, which starts the node and passes:
//   TIM_URL      the node's API (http://127.0.0.1:PORT)
//   TIM_TOKEN    a token of the node's timite (TIM_DID), a member of TIM_SPACE
//   TIM_DID      that timite
//   TIM_SPACE    a public space it created (schema version >= 10), where it holds a credential
//                and proposed to change the purpose
//   TIM_HIDDEN   an invite-only space of another timite, which TIM_DID cannot read
import assert from 'node:assert/strict';

import { buildSchema, parse, validate } from 'graphql';
import WebSocket from 'ws';

const { TIM_URL: url, TIM_TOKEN: token, TIM_DID: did, TIM_SPACE: space, TIM_HIDDEN: hidden } =
  process.env;
const auth = { Authorization: `Bearer ${token}` };
/// How long any one awaited thing may take.
const DEADLINE_MS = 20_000;

function step(what) {
  console.log(`- ${what}`);
}

// Rejects with `what` if `promise` has not settled by the deadline.
function within(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function http(method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// A WebSocket to a space whose JSON frames queue up until taken with `take(match)`.
async function socket(path, options) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, options);
  const frames = [];
  let wake = () => {};
  ws.on('message', (data, binary) => {
    assert.equal(binary, false, 'the node sends text frames');
    frames.push(JSON.parse(data.toString()));
    wake();
  });
  await within(
    new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }),
    `the socket at ${path} to open`,
  );
  const take = (match, what) =>
    within(
      (async () => {
        for (;;) {
          const i = frames.findIndex(match);
          if (i >= 0) return frames.splice(i, 1)[0];
          await new Promise((resolve) => {
            wake = resolve;
          });
        }
      })(),
      what,
    );
  return { ws, take, send: (v) => ws.send(typeof v === 'string' ? v : JSON.stringify(v)) };
}

// The status a refused upgrade answers with.
function refusedUpgrade(path, options) {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + path, options);
  return within(
    new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        // Left open, the refused request would keep the script alive.
        res.resume();
        req.destroy();
        resolve(res.statusCode);
      });
      ws.once('open', () => reject(new Error(`${path} opened, though it should be refused`)));
      ws.once('error', () => {});
    }),
    `the refusal of ${path}`,
  );
}

// ---------- WebSocket ----------

step('WebSocket with ?token=: an HTTP post arrives as an event frame');
const live = await socket(`/v1/spaces/${space}/ws?token=${encodeURIComponent(token)}`);
const overHttp = await http('POST', `/v1/spaces/${space}/messages`, { text: 'posted over HTTP' });
assert.equal(overHttp.status, 201);
const event = await live.take(
  (f) => f.kind === 'message' && f.message.id === overHttp.body.id,
  'the HTTP post as an event frame',
);
assert.equal(event.space, space);
assert.equal(event.message.text, 'posted over HTTP');
assert.equal(event.message.author, did);

step('a post over the socket is answered with its id, and seen over HTTP');
live.send({ op: 'post', text: 'posted over the socket', ref: 'p1' });
const posted = await live.take((f) => f.ref === 'p1', 'the answer to the post');
assert.equal(posted.ok, true, JSON.stringify(posted));
assert.ok(posted.id && posted.change, JSON.stringify(posted));
const page = await http('GET', `/v1/spaces/${space}/messages`);
assert.equal(page.status, 200);
assert.equal(page.body.messages.find((m) => m.id === posted.id)?.text, 'posted over the socket');
await live.take(
  (f) => f.kind === 'message' && f.message.id === posted.id,
  'the socket post as an event frame',
);

step('a reply and a reaction over the socket');
live.send({ op: 'post', text: 'a reply', reply_to: overHttp.body.id, ref: 'r1' });
const reply = await live.take((f) => f.ref === 'r1', 'the answer to the reply');
assert.equal(reply.ok, true, JSON.stringify(reply));
live.send({ op: 'react', message: posted.id, emoji: '👍', ref: 'x1' });
const reacted = await live.take((f) => f.ref === 'x1', 'the answer to the reaction');
assert.deepEqual([reacted.ok, reacted.id], [true, posted.id], JSON.stringify(reacted));

step('a malformed frame gets a problem frame, and the socket stays open');
live.send('this is not JSON');
const bad = await live.take((f) => f.ok === false && f.ref === null, 'the problem frame');
assert.equal(bad.type, 'tim:problem/malformed-json');
assert.equal(bad.status, 400);
live.send({ op: 'shout', text: 'no such op', ref: 'b2' });
const unknown = await live.take((f) => f.ref === null && f.ok === false, 'the unknown op problem');
assert.equal(unknown.type, 'tim:problem/malformed-json');

step('a refused op answers the problem of its HTTP route');
live.send({ op: 'edit', message: 'not-a-message-id', text: 'x', ref: 'e1' });
const refused = await live.take((f) => f.ref === 'e1', 'the refused edit');
const viaHttp = await http('PUT', `/v1/spaces/${space}/messages/not-a-message-id`, { text: 'x' });
assert.equal(refused.ok, false);
assert.deepEqual([refused.type, refused.status], [viaHttp.body.type, viaHttp.status]);
live.send({ op: 'edit', message: posted.id, text: 'edited over the socket', ref: 'e2' });
const edited = await live.take((f) => f.ref === 'e2', 'the edit');
assert.equal(edited.ok, true, JSON.stringify(edited));
live.ws.close();

step('the Authorization header works too; no token, or a hidden space, is refused');
const withHeader = await socket(`/v1/spaces/${space}/ws`, { headers: auth });
withHeader.ws.close();
assert.equal(await refusedUpgrade(`/v1/spaces/${space}/ws`), 401);
assert.equal(await refusedUpgrade(`/v1/spaces/${hidden}/ws`, { headers: auth }), 404);

// ---------- GraphQL ----------

step('the served SDL builds a schema that the queries validate against');
const sdlRes = await fetch(`${url}/v1/graphql/sdl`);
assert.equal(sdlRes.status, 200);
const schema = buildSchema(await sdlRes.text());
const queries = {
  space: `query Space($id: String!) {
    space(id: $id) {
      id name schemaVersion
      members(first: 10) { did role reputation }
      messages(last: 10) { id author text at replyTo edits reactions { emoji count by } }
      proposals { id author action yes no eligible outcome }
    }
  }`,
  passport: `{ me { did passport { credentials(first: 20) { id types issuer subject state } } } }`,
  spaces: `{ spaces { id name visibility memberCount } }`,
};
for (const [name, q] of Object.entries(queries)) {
  assert.deepEqual(validate(schema, parse(q)), [], `the ${name} query validates`);
}
const wrong = validate(schema, parse('{ space(id: "x") { members { nickname } } }'));
assert.equal(wrong.length, 1, 'graphql-js refuses a field the schema does not have');

async function graphql(query, variables) {
  const res = await fetch(`${url}/v1/graphql`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

step('members and messages of a space');
const one = await graphql(queries.space, { id: space });
assert.equal(one.errors, undefined, JSON.stringify(one.errors));
assert.equal(one.data.space.id, space);
const [proposal] = one.data.space.proposals;
assert.equal(proposal.author, did);
assert.deepEqual(JSON.parse(proposal.action), {
  kind: 'meta',
  key: 'purpose',
  value: 'proposed purpose',
});
assert.equal(proposal.eligible, 1);
assert.ok(one.data.space.schemaVersion >= 10);
assert.deepEqual(
  one.data.space.members.map((m) => [m.did, m.role]),
  [[did, 'owner']],
);
const messages = one.data.space.messages;
assert.equal(messages.find((m) => m.id === reply.id)?.replyTo, overHttp.body.id);
const socketPost = messages.find((m) => m.id === posted.id);
assert.equal(socketPost.text, 'edited over the socket');
assert.equal(socketPost.edits, 1);
assert.deepEqual(socketPost.reactions, [{ emoji: '👍', count: 1, by: [did] }]);

step('the passport');
const me = await graphql(queries.passport);
assert.equal(me.errors, undefined, JSON.stringify(me.errors));
assert.equal(me.data.me.did, did);
const [credential] = me.data.me.passport.credentials;
assert.ok(credential, 'the timite holds a credential');
assert.ok(credential.types.includes('VerifiableCredential'), credential.types.join());
assert.equal(credential.subject, did);
assert.equal(credential.state, 'VALID');

step('GET runs a query from the query string');
const got = await fetch(`${url}/v1/graphql?query=${encodeURIComponent(queries.spaces)}`, {
  headers: auth,
});
const listed = await got.json();
assert.equal(listed.errors, undefined, JSON.stringify(listed.errors));
assert.deepEqual(
  listed.data.spaces.map((s) => s.id),
  [space],
  'the hidden space is not listed',
);

step('a space the timite cannot read is an error, with the REST route problem');
const denied = await graphql(queries.space, { id: hidden });
assert.equal(denied.data, null);
assert.equal(denied.errors.length, 1);
const restDenied = await http('GET', `/v1/spaces/${hidden}`);
assert.equal(denied.errors[0].extensions.status, restDenied.status);
assert.equal(denied.errors[0].extensions.type, restDenied.body.type);
assert.deepEqual(denied.errors[0].path, ['space']);

step('too complex or too deep a query is refused');
const heavy = await graphql(`query Heavy($id: String!) {
  space(id: $id) {
    members(first: 1000) { did role reputation joinedAt abilities }
    messages(last: 500) { id text }
  }
}`, { id: space });
assert.match(heavy.errors?.[0]?.message ?? '', /complex/i, JSON.stringify(heavy));
const deep = await graphql(
  '{ __type(name: "Space") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }',
);
assert.match(deep.errors?.[0]?.message ?? '', /nested too deep/i, JSON.stringify(deep));

const noToken = await fetch(`${url}/v1/graphql`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ query: queries.spaces }),
});
assert.equal(noToken.status, 401);

console.log('clients: all checks passed');
// Keep-alive connections of fetch and closing sockets must not hold the script open.
process.exit(0);
