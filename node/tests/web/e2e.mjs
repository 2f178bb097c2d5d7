// End-to-end test of the node's web page in real headless Chromium (run by node/tests/web.rs).
//
// A person signs in on node 1's page, opens a space, posts; the message reaches node 2; a reply
// posted on node 2 (through its API) appears on node 1's page without a reload. Then the member
// list (roles, reputation), the abilities form and the passport view are checked and full-page
// screenshots are saved; then a space made on node 2 is joined by its id and one is created,
// both through the page's forms. Last, a space with more than a page of messages: the page
// shows the latest 50 and loads older ones on scrolling up and with its "Load older" button;
// and an end-to-end encrypted space shows its decrypted text. Last, abilities across the two
// nodes' pages: declare, find, ask, claim, answer, see the result arrive, rate. Last, governance:
// a role proposal made and voted on node 1's page passes with node 2's vote and takes effect;
// then the owner rates that member and sets its role from the member list, and deletes its
// message from the timeline. The edit history shows under "(edited)"; a name changed on node 2
// updates node 1's page live; with its cap lowered, the timeline drops what goes past it and
// counts live messages far back instead of showing them. Message actions on node 1's page: a
// reply (shown with its parent), a reaction from the emoji picker and an edit of its own
// message, each reaching node 2. Node 2's page signs in by challenge with the browser's own
// key, which the test allows for node 2's timite through the API with the admin token (as
// `tim timite keys add`).
//
// Environment: TIM_URL1, TIM_TOKEN1, TIM_ADMIN1, TIM_URL2, TIM_TOKEN2, TIM_ADMIN2, TIM_SPACE,
// TIM_SCREENSHOT (png path);
// optional TIM_CHROMIUM (default /usr/bin/chromium). Exits 0 on success, 1 with a message.

import { launch } from './chromium.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
};

const errors = [];

function fail(message) {
  console.error(`FAIL: ${message}`);
  if (errors.length) console.error(`page console errors:\n  ${errors.join('\n  ')}`);
  process.exit(1);
}

function step(message) {
  console.log(`- ${message}`);
}

const url1 = env('TIM_URL1').replace(/\/$/, '');
const token1 = env('TIM_TOKEN1');
const url2 = env('TIM_URL2').replace(/\/$/, '');
const token2 = env('TIM_TOKEN2');
const space = env('TIM_SPACE');
const screenshot = env('TIM_SCREENSHOT');

for (const u of [url1, url2]) {
  const host = new URL(u).hostname;
  if (host !== '127.0.0.1') fail(`only 127.0.0.1 is allowed, got ${u}`);
}

// The node APIs, called directly (Node's fetch).
async function call(base, token, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${base}${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function until(what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const HELLO = 'hello from the page';
const REPLY = 'reply from node 2';
const spacePath = `/v1/spaces/${encodeURIComponent(space)}`;

const me1 = await call(url1, token1, 'GET', '/v1/me');
const me2 = await call(url2, token2, 'GET', '/v1/me');
step(`timites: ${me1.did} on node 1, ${me2.did} on node 2`);

let browser;
try {
  browser = await launch();
} catch (e) {
  fail(e.message);
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  let navigations = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations += 1;
  });

  // Sign in through the form, with the keyboard-reachable controls a person would use.
  await page.goto(`${url1}/`);
  step('page loaded');
  await page.getByLabel('Access token').fill(token1);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const who = page.getByTestId('who-did');
  await who.waitFor();
  const whoTitle = await who.getAttribute('title');
  if (whoTitle !== me1.did) fail(`signed in as ${whoTitle}, expected ${me1.did}`);
  step('signed in');

  // Open the space from the list.
  await page.locator(`[data-space-id="${space}"]`).click();
  await page.getByTestId('space-id').filter({ hasText: space }).waitFor();
  await page.locator('#live[data-state="on"]').waitFor();
  step(`space ${space} open, live updates connected`);

  // Marks this document: a reload or navigation would lose it.
  await page.evaluate(() => { window.timE2eMarker = 'same-document'; });
  const navigationsBefore = navigations;

  // Post with the keyboard: type, then Enter.
  const box = page.getByRole('textbox', { name: /^Message/ });
  await box.click();
  await box.fill(HELLO);
  await box.press('Enter');
  const timeline = page.getByTestId('timeline');
  await timeline.locator('li.msg', { hasText: HELLO }).waitFor();
  // The live event can show the message before the node acknowledges the post (it answers
  // once the post is on disk); the page clears the box on that answer.
  await until('the message box to clear after posting', 5000,
    async () => (await box.inputValue()) === '');
  step('posted from the page; it is in the timeline');

  // Node 2 receives it over the network.
  await until('node 2 to receive the message', 30000, async () => {
    const t = await call(url2, token2, 'GET', `${spacePath}/messages`);
    return t.messages.some((m) => m.text === HELLO && m.author === me1.did);
  });
  step('node 2 has the message');

  // A reply on node 2 appears on node 1's page, live.
  await call(url2, token2, 'POST', `${spacePath}/messages`, { text: REPLY });
  const reply = timeline.locator('li.msg', { hasText: REPLY });
  try {
    await reply.waitFor({ timeout: 15000 });
  } catch (_) {
    fail('the reply posted on node 2 did not appear on the page within 15 s');
  }
  const marker = await page.evaluate(() => window.timE2eMarker);
  if (marker !== 'same-document' || navigations !== navigationsBefore) {
    fail('the page reloaded or navigated: the reply must arrive live');
  }
  const replyAuthor = await reply.locator('.author').getAttribute('data-did');
  if (replyAuthor !== me2.did) fail(`reply shown as by ${replyAuthor}, expected ${me2.did}`);
  const texts = await timeline.locator('li.msg .text').allTextContents();
  if (texts.indexOf(HELLO) < 0 || texts.indexOf(HELLO) > texts.indexOf(REPLY)) {
    fail(`timeline out of order: ${JSON.stringify(texts)}`);
  }
  if (texts.filter((t) => t === HELLO).length !== 1) fail(`"${HELLO}" shown more than once`);
  step('the reply from node 2 appeared without a reload');

  // Schema version 10 (docs/protocol.md §9.12): node 2's reaction to the first message and its
  // edit of the reply appear live on node 1's page.
  await call(url1, token1, 'POST', `${spacePath}/migrate`, { to: 10 });
  await until('node 2 to see schema version 10', 30000, async () =>
    (await call(url2, token2, 'GET', spacePath)).schema_version >= 10);
  const onNode2 = (await call(url2, token2, 'GET', `${spacePath}/messages`)).messages;
  const helloId = onNode2.find((m) => m.text === HELLO).id;
  const replyId = onNode2.find((m) => m.text === REPLY).id;
  await call(url2, token2, 'POST', `${spacePath}/messages/${encodeURIComponent(helloId)}/reactions`, { emoji: '👍' });
  await timeline.locator('li.msg', { hasText: HELLO }).locator('.reactions li', { hasText: '👍 1' }).waitFor();
  await call(url2, token2, 'PUT', `${spacePath}/messages/${encodeURIComponent(replyId)}`, { text: `${REPLY}, edited` });
  await timeline.locator('li.msg', { hasText: `${REPLY}, edited` }).locator('.edited').waitFor();
  step('a reaction and an edit from node 2 appeared live');

  // Message actions on node 1's page: reply to its own message (the reply shows its parent),
  // react to node 2's with the emoji picker, edit its own; node 2 holds each.
  const PAGE_REPLY = 'an answer from the page';
  const helloItem = timeline.locator(`li.msg[data-id="${helloId}"]`);
  await helloItem.getByRole('button', { name: /^Reply to/ }).click();
  await page.getByTestId('reply-bar').filter({ hasText: HELLO }).waitFor();
  await box.fill(PAGE_REPLY);
  await box.press('Enter');
  const answer = timeline.locator('li.msg', { hasText: PAGE_REPLY });
  await answer.locator('.reply-to', { hasText: HELLO }).waitFor();
  if (await page.getByTestId('reply-bar').isVisible()) fail('the reply bar stayed after posting the reply');
  await until('node 2 to hold the reply to the first message', 30000, async () =>
    (await call(url2, token2, 'GET', `${spacePath}/messages`)).messages
      .some((m) => m.text === PAGE_REPLY && m.reply_to === helloId));
  const replyItem = timeline.locator(`li.msg[data-id="${replyId}"]`);
  await replyItem.getByRole('button', { name: /^React to/ }).click();
  await replyItem.getByRole('button', { name: 'React with 🎉' }).click();
  await replyItem.locator('.reactions li.by-me', { hasText: '🎉 1' }).waitFor();
  await until('node 2 to hold the reaction', 30000, async () =>
    (await call(url2, token2, 'GET', `${spacePath}/messages`)).messages
      .some((m) => m.id === replyId && (m.reactions || []).some((r) => r.emoji === '🎉' && r.by.includes(me1.did))));
  const EDITED = `${HELLO}, edited on the page`;
  await helloItem.getByRole('button', { name: 'Edit your message' }).click();
  await helloItem.getByRole('textbox', { name: 'New text' }).fill(EDITED);
  await helloItem.getByRole('button', { name: 'Save' }).click();
  const editedItem = helloItem.filter({ hasText: EDITED });
  await editedItem.locator('.edited').waitFor();
  const editedTitle = await editedItem.locator('.edited').getAttribute('title');
  if (!editedTitle.startsWith('edited once')) fail(`the edit mark says "${editedTitle}"`);
  await until('node 2 to hold the edit', 30000, async () =>
    (await call(url2, token2, 'GET', `${spacePath}/messages`)).messages
      .some((m) => m.id === helloId && m.text === EDITED && m.edits === 1));
  // The edit history: a click on "(edited)" shows the earlier text with its time.
  await editedItem.locator('.edited').click();
  const history = editedItem.getByTestId('edit-history');
  await history.locator('li', { hasText: HELLO }).waitFor();
  const versions = await history.locator('li .history-text').allTextContents();
  if (JSON.stringify(versions) !== JSON.stringify([HELLO])) fail(`the edit history shows ${JSON.stringify(versions)}`);
  if ((await history.locator('li time').count()) !== 1) fail('the earlier version shows no time');
  // It stays open when the message shows again for another reason (node 2 reacts).
  await call(url2, token2, 'POST', `${spacePath}/messages/${encodeURIComponent(helloId)}/reactions`, { emoji: '👀' });
  await editedItem.locator('.reactions li', { hasText: '👀 1' }).waitFor();
  if (!(await history.isVisible())) fail('the edit history closed when a reaction arrived');
  step('"(edited)" shows the earlier text with its time, still open after a reaction');
  await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-messages.png', fullPage: true, animations: 'disabled' });
  step('node 1\'s page replied, reacted and edited; node 2 holds all three');

  // Members, with the roles the node reports.
  const members = page.getByTestId('members');
  await members.scrollIntoViewIfNeeded();
  const expected = await call(url1, token1, 'GET', `${spacePath}/members`);
  for (const did of [me1.did, me2.did]) {
    const want = expected.find((m) => m.did === did);
    if (!want) fail(`node 1 does not list ${did} as a member`);
    const row = members.locator(`li[data-did="${did}"]`);
    try {
      await row.locator(`[data-role="${want.role}"]`).waitFor({ timeout: 10000 });
    } catch (_) {
      fail(`member ${did} is not listed with role ${want.role}`);
    }
    const facts = row.locator('.member-facts');
    try {
      await facts.filter({ hasText: `reputation ${want.reputation} ` }).waitFor({ timeout: 10000 });
    } catch (_) {
      fail(`member ${did}: "${await facts.textContent()}" lacks its reputation ${want.reputation}`);
    }
  }
  step(`members listed: ${expected.map((m) => `${m.role}`).join(', ')}`);

  // Declare abilities with the form; the member list shows them.
  await page.getByLabel(/^Your abilities/).fill('gardening, testing');
  await page.getByRole('button', { name: 'Save abilities' }).click();
  const mine = members.locator(`li[data-did="${me1.did}"] .abilities li`);
  await until('the declared abilities in the member list', 10000,
    async () => JSON.stringify(await mine.allTextContents()) === '["gardening","testing"]');
  await until('node 2 to see the abilities', 30000, async () => {
    const list = await call(url2, token2, 'GET', `${spacePath}/members`);
    const m = list.find((x) => x.did === me1.did);
    return m && m.abilities.includes('testing');
  });
  step('abilities declared from the page reached node 2');

  // Passport view: node 1's timite (the space's owner) issues itself a membership credential
  // and revokes it, and issues node 2's timite one. Its page lists the first under what it
  // holds with a "revoked" badge, the second under what it issued, with its subject.
  await page.getByRole('link', { name: 'Passport' }).click();
  await page.getByRole('heading', { name: 'Passport' }).waitFor();
  await page.getByTestId('passport-empty').filter({ hasText: 'Your passport is empty' }).waitFor();
  step('passport: empty state shown');
  const own = await call(url1, token1, 'POST', `${spacePath}/credentials`, { subject: me1.did, kind: 'membership' });
  await call(url1, token1, 'POST', `/v1/passport/${encodeURIComponent(own.id)}/revoke`);
  const given = await call(url1, token1, 'POST', `${spacePath}/credentials`, { subject: me2.did, kind: 'membership' });
  await page.getByRole('link', { name: 'Spaces' }).click();
  await page.getByRole('link', { name: 'Passport' }).click();
  const heldCard = page.getByTestId('credentials').locator(`li.credential[data-id="${own.id}"]`);
  await heldCard.locator('.badge.revoked', { hasText: 'revoked' }).waitFor();
  if (await heldCard.getByRole('button', { name: 'Download as JWT' }).count() !== 1) fail('the issuer cannot download its JWT');
  const issuedCard = page.getByTestId('issued').locator(`li.credential[data-id="${given.id}"]`);
  await issuedCard.locator('.badge.valid').waitFor();
  if (!(await issuedCard.locator('.claims').textContent()).includes(me2.did)) fail('an issued credential does not name its subject');
  if (await page.getByTestId('credentials').locator(`li[data-id="${given.id}"]`).count()) fail('an issued credential is listed as held');
  const download = page.waitForEvent('download');
  await heldCard.getByRole('button', { name: /^Download the/ }).click();
  const file = await download;
  if (!file.suggestedFilename().endsWith('.json')) fail(`download named ${file.suggestedFilename()}`);
  step(`passport: the revoked credential shows "revoked", the issued one its subject; downloaded ${file.suggestedFilename()}`);
  await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-passport.png', fullPage: true, animations: 'disabled' });

  // Back to the space (no reload), and the picture for CI.
  await page.getByRole('link', { name: 'Spaces' }).click();
  await timeline.locator('li.msg', { hasText: REPLY }).waitFor();
  if ((await page.evaluate(() => window.timE2eMarker)) !== 'same-document') fail('the page reloaded');
  await page.screenshot({ path: screenshot, fullPage: true, animations: 'disabled' });
  step(`screenshot saved to ${screenshot}`);

  // Join by invite link: a space made on node 2, joined from node 1's page with the link
  // `tim space link` prints (its id and node 2's address).
  const status2 = await call(url2, token2, 'GET', '/v1/status');
  const made = await call(url2, token2, 'POST', '/v1/spaces', { name: 'joined from the page', purpose: '', visibility: 'public' });
  await page.getByText('Join a space').click();
  await page.locator('#join-id').fill(`tim:join/${made.id}?via=${status2.listen[0]}`);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  try {
    await page.getByTestId('space-name').filter({ hasText: 'joined from the page' }).waitFor({ timeout: 40000 });
  } catch (_) {
    fail(`joining ${made.id} from the page did not open it: ${await page.getByTestId('error').textContent()}`);
  }
  await page.locator(`[data-space-id="${made.id}"]`).waitFor();
  step('joined a space from node 2 by its invite link');

  // Create a space with the form (keyboard: Enter submits).
  await page.getByText('Create a space').click();
  await page.getByLabel('Name', { exact: true }).fill('made on the page');
  await page.getByLabel('Purpose', { exact: true }).fill('checking the create form');
  await page.getByLabel('Name', { exact: true }).press('Enter');
  await page.getByTestId('space-name').filter({ hasText: 'made on the page' }).waitFor();
  const listed = await call(url1, token1, 'GET', '/v1/spaces');
  if (!listed.some((x) => x.name === 'made on the page')) fail('the space made on the page is not on node 1');
  step('created a space with the form');

  // Paging: a space with more than a page of messages shows only the latest page; scrolling to
  // the top of the timeline loads the next older page, and so does the "Load older" button.
  const OLD = 120;
  const long = await call(url1, token1, 'POST', '/v1/spaces', { name: 'long history', purpose: '', visibility: 'public' });
  const longPath = `/v1/spaces/${encodeURIComponent(long.id)}/messages`;
  for (let i = 0; i < OLD; i++) await call(url1, token1, 'POST', longPath, { text: `old ${i}` });
  await page.evaluate((id) => { location.hash = `#/space/${encodeURIComponent(id)}`; }, long.id);
  await page.getByTestId('space-name').filter({ hasText: 'long history' }).waitFor();
  const shown = () => timeline.locator('li.msg .text').allTextContents();
  const expect = (from) => Array.from({ length: OLD - from }, (_, i) => `old ${from + i}`);
  await until('the latest page of the long timeline', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(expect(OLD - 50)));
  const loadOlder = page.getByTestId('load-older');
  if (!(await loadOlder.isVisible())) fail('no "Load older messages" control with older messages to load');
  step(`a space of ${OLD} messages opens with the latest 50`);
  await timeline.evaluate((list) => { list.scrollTop = 0; });
  await until('an older page after scrolling to the top', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(expect(OLD - 100)));
  if ((await timeline.evaluate((list) => list.scrollTop)) < 80) {
    fail('the view jumped to the top after loading older messages');
  }
  step('scrolling to the top loaded the next 50, above, keeping the view');
  await loadOlder.click();
  await until('the oldest page after "Load older messages"', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(expect(0)));
  await until('no more "Load older" once the oldest is shown', 5000, async () => !(await loadOlder.isVisible()));
  // Live messages keep arriving at the bottom.
  await call(url1, token1, 'POST', longPath, { text: 'new after paging' });
  await until('a live message after the older pages', 10000, async () => {
    const t = await shown();
    return t.length === OLD + 1 && t[OLD] === 'new after paging';
  });
  step('the button loaded the oldest page; a live message still arrives at the bottom');

  // A bounded timeline: with the page's cap lowered to 100 messages (`tim.maxShown`, the
  // default is 1,000), scrolling back past it drops the newest off the bottom, keeping the
  // view; a live message then only counts in "1 new message ↓"; scrolling down loads the
  // newer pages again, dropping the oldest, up to the live one.
  const all = [...expect(0), 'new after paging'];
  const items = () => timeline.locator('li.msg').count();
  await page.evaluate(() => localStorage.setItem('tim.maxShown', '100'));
  await page.evaluate((id) => { location.hash = `#/space/${encodeURIComponent(id)}`; }, space);
  await page.getByTestId('space-name').filter({ hasText: 'web e2e' }).waitFor();
  await page.evaluate((id) => { location.hash = `#/space/${encodeURIComponent(id)}`; }, long.id);
  await until('the latest page of the long timeline again', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(all.slice(-50)));
  await timeline.evaluate((list) => { list.scrollTop = 0; });
  await until('a second page, up to the cap', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(all.slice(-100)));
  await timeline.evaluate((list) => { list.scrollTop = 0; });
  await until('the oldest messages, the newest dropped off the bottom', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(all.slice(0, 100)));
  if ((await timeline.evaluate((list) => list.scrollTop)) < 80) fail('the view jumped to the top when the newest were dropped');
  const jump = page.getByTestId('jump-newest');
  await jump.waitFor();
  step('scrolled back past the cap of 100: the 21 newest were dropped, the view kept');
  const LIVE_FAR = 'live while the reader is far back';
  await call(url1, token1, 'POST', longPath, { text: LIVE_FAR });
  await jump.filter({ hasText: '1 new message ↓' }).waitFor({ timeout: 10000 });
  if ((await items()) !== 100) fail(`a live message far back grew the timeline to ${await items()}`);
  await timeline.evaluate((list) => { list.scrollTop = list.scrollHeight; });
  const latest = [...all, LIVE_FAR].slice(-100);
  await until('scrolling down to load the newer messages up to the live one', 10000,
    async () => JSON.stringify(await shown()) === JSON.stringify(latest));
  await until('the jump control to go once the newest are shown', 5000, async () => !(await jump.isVisible()));
  await page.evaluate(() => localStorage.removeItem('tim.maxShown'));
  step('a live message far back showed "1 new message ↓" without growing the timeline; scrolling down brought it, 100 shown');

  // An end-to-end encrypted space: the page shows the text node 1's timite decrypts, and says
  // the space is encrypted; the node stores only ciphertext (tests elsewhere check that).
  const secret = await call(url1, token1, 'POST', '/v1/spaces', { name: 'encrypted on the page', purpose: '', visibility: 'invite-only' });
  if (!secret.encrypted) fail('an invite-only space is not end-to-end encrypted');
  await call(url1, token1, 'POST', `/v1/spaces/${encodeURIComponent(secret.id)}/messages`, { text: 'sealed but readable here' });
  await page.evaluate((id) => { location.hash = `#/space/${encodeURIComponent(id)}`; }, secret.id);
  await page.getByTestId('space-name').filter({ hasText: 'encrypted on the page' }).waitFor();
  await timeline.locator('li.msg .text', { hasText: 'sealed but readable here' }).waitFor();
  const label = await page.locator('#space-visibility').textContent();
  if (!label.includes('end-to-end encrypted')) fail(`the space's label does not say it is encrypted: ${label}`);
  step('an encrypted space shows its decrypted text and says it is encrypted');

  // Abilities (docs/abilities.md §15), across the two nodes: node 1's timite declares an
  // ability on its page; on node 2's page, a second browser tab, the other timite finds it,
  // asks (the page checks the input against the schema first), and watches the result that
  // node 1's page claims and sends arrive without a reload; then rates it, and node 1 records
  // the rating. Text from the other timite is shown as text, never as HTML.
  const ECHO = 'text.echo';
  const HOSTILE = '<img src=x onerror="window.timE2eInjected=1">';
  await page.evaluate((id) => { location.hash = `#/space/${encodeURIComponent(id)}/abilities`; }, space);
  const view1 = page.getByTestId('abilities-view');
  await view1.waitFor();
  await page.getByText('Declare an ability').click();
  await page.locator('#declare-name').fill(ECHO);
  await page.locator('#declare-description').fill(`Echoes a text ${HOSTILE}`);
  await page.locator('#declare-input').fill(JSON.stringify({
    type: 'object', properties: { text: { type: 'string' } }, required: ['text'],
  }));
  await page.getByRole('button', { name: 'Declare', exact: true }).click();
  await page.getByTestId('providers').locator(`li[data-name="${ECHO}"][data-provider="${me1.did}"]`).waitFor();
  await until('node 2 to hold the declaration', 30000, async () => {
    const list = await call(url2, token2, 'GET', `${spacePath}/abilities`);
    return list.some((d) => d.name === ECHO && d.provider === me1.did);
  });
  step('declared an ability on node 1\'s page; node 2 holds it');

  const context2 = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
  const page2 = await context2.newPage();
  page2.setDefaultTimeout(15000);
  page2.on('console', (m) => { if (m.type() === 'error') errors.push(`page 2: ${m.text()}`); });
  page2.on('pageerror', (e) => errors.push(`uncaught (page 2): ${e.message}`));
  // Node 2's page signs in by challenge with the browser's own key: the page shows the key
  // and the command that allows it; the operator allows it (here through the API).
  const admin2 = env('TIM_ADMIN2');
  await page2.goto(`${url2}/`);
  const keyShown = page2.getByTestId('browser-key').filter({ hasText: /^did:key:z6Mk/ });
  await keyShown.waitFor();
  const browserKey = (await keyShown.textContent()).trim();
  await page2.getByLabel('Your timite\'s DID').fill(me2.did);
  const command = (await page2.getByTestId('browser-key-command').textContent()).trim();
  if (command !== `tim timite keys add ${browserKey} --label "web browser" --did ${me2.did}`) {
    fail(`the page shows the command "${command}"`);
  }
  await page2.screenshot({ path: screenshot.replace(/\.png$/, '') + '-signin.png', fullPage: true, animations: 'disabled' });
  // Not allowed yet: the node refuses the key.
  await page2.getByRole('button', { name: 'Sign in with this browser\'s key' }).click();
  await page2.getByTestId('error').filter({ hasText: 'is not a sign-in key' }).waitFor();
  await page2.locator('#error-close').click();
  await call(url2, admin2, 'POST', `/v1/timites/${encodeURIComponent(me2.did)}/keys`, { key: browserKey, label: 'e2e browser' });
  await page2.getByRole('button', { name: 'Sign in with this browser\'s key' }).click();
  await page2.getByTestId('who-did').waitFor();
  if ((await page2.getByTestId('who-did').getAttribute('title')) !== me2.did) fail('node 2\'s page signed in as someone else');
  const signedIn = await page2.evaluate(() => localStorage.getItem('tim.token'));
  const tokens2 = await call(url2, admin2, 'GET', '/v1/tokens');
  if (!signedIn || !tokens2.some((t) => t.did === me2.did && t.key === browserKey)) fail('no sign-in token made by the browser\'s key');
  step('node 2\'s page signed in by challenge with its own key');
  await page2.locator(`[data-space-id="${space}"]`).click();
  await page2.getByRole('link', { name: 'Abilities' }).click();
  await page2.getByTestId('abilities-view').waitFor();
  await page2.locator('#live[data-state="on"]').waitFor({ state: 'attached' });
  await page2.evaluate(() => { window.timE2eMarker = 'same-document'; });

  // Find: the search lists node 1's timite with its score.
  await page2.locator('#find-q').fill('echo');
  await page2.getByRole('button', { name: 'Search' }).click();
  const hit = page2.getByTestId('hits').locator(`li[data-name="${ECHO}"][data-provider="${me1.did}"]`);
  await hit.waitFor();
  const hitText = await hit.textContent();
  if (!/score \d+/.test(hitText) || !/rating \d+ · success \d+ · speed \d+/.test(hitText)) {
    fail(`the hit lacks its score and its parts: ${hitText}`);
  }
  if (!(await hit.locator('.description').textContent()).includes(HOSTILE)) fail('the description is not shown as text');
  step('node 2\'s page found the provider, with its score and its parts');

  // Ask: an input the schema refuses is stopped on the page; a good one is asked.
  await hit.getByRole('button', { name: /^Ask / }).click();
  if ((await page2.locator('#ask-to').inputValue()) !== me1.did) fail('"Ask" did not choose the provider');
  if ((await page2.locator('#ask-ability').inputValue()) !== ECHO) fail('"Ask" did not fill the ability');
  const before = (await call(url2, token2, 'GET', `${spacePath}/requests`)).length;
  await page2.locator('#ask-input').fill('{"txt": 1}');
  await page2.getByRole('button', { name: 'Ask', exact: true }).click();
  await page2.getByTestId('error').filter({ hasText: 'needs “text”' }).waitFor();
  if ((await call(url2, token2, 'GET', `${spacePath}/requests`)).length !== before) fail('a bad input was sent');
  await page2.locator('#error-close').click();
  await page2.locator('#ask-input').fill(JSON.stringify({ text: `hi ${HOSTILE}` }));
  await page2.getByRole('button', { name: 'Ask', exact: true }).click();
  const asked = page2.getByTestId('requests').locator('li.request[data-state="open"]');
  await asked.first().waitFor();
  const rid = await asked.first().getAttribute('data-id');
  step(`node 2's page asked: request ${rid}`);

  // Node 1's page: the request arrives live, under "Asked of you" (the timite's request stream,
  // across its spaces) and in the space's list; claim it and send the result.
  const asks1 = page.getByTestId('asks');
  try {
    await asks1.locator(`li[data-id="${rid}"][data-state="open"]`).waitFor({ timeout: 30000 });
  } catch (_) {
    fail('the request from node 2 did not appear under "Asked of you" on node 1\'s page');
  }
  const mineOn1 = page.getByTestId('requests').locator(`li.request[data-id="${rid}"]`);
  try {
    await mineOn1.getByRole('button', { name: 'Claim' }).waitFor({ timeout: 30000 });
  } catch (_) {
    fail('the request from node 2 did not appear, claimable, on node 1\'s page');
  }
  await mineOn1.getByRole('button', { name: 'Claim' }).click();
  const claimed = page.getByTestId('requests').locator(`li.request[data-id="${rid}"][data-state="claimed"]`);
  await claimed.locator('textarea').fill(JSON.stringify({ text: `echo: hi ${HOSTILE}` }));
  await claimed.getByRole('button', { name: 'Send result' }).click();
  await page.getByTestId('requests').locator(`li.request[data-id="${rid}"][data-state="completed"]`).waitFor();
  await until('the answered request to leave "Asked of you"', 10000,
    async () => (await asks1.locator(`li[data-id="${rid}"]`).count()) === 0);
  step('node 1\'s page claimed it and sent the result');

  // Node 2's page: the result arrives without a reload; rate it.
  const done = page2.getByTestId('requests').locator(`li.request[data-id="${rid}"][data-state="completed"]`);
  try {
    await done.waitFor({ timeout: 30000 });
  } catch (_) {
    fail('the result did not reach node 2\'s page');
  }
  if ((await page2.evaluate(() => window.timE2eMarker)) !== 'same-document') fail('node 2\'s page reloaded');
  const output = await done.getByTestId('output').textContent();
  if (JSON.parse(output).text !== `echo: hi ${HOSTILE}`) fail(`the output shown is ${output}`);
  if (await page2.getByTestId('requests').locator('img').count()) fail('text from another timite became HTML');
  if (await page2.evaluate(() => window.timE2eInjected)) fail('text from another timite ran as script');
  step('the result arrived live on node 2\'s page, shown as text');
  await done.getByRole('combobox', { name: /^Rating of/ }).selectOption('4');
  await done.getByRole('button', { name: 'Rate' }).click();
  await page2.getByTestId('requests').locator(`li.request[data-id="${rid}"] [data-rating="4"]`).waitFor();
  await until('node 1 to record the rating', 30000, async () => {
    const r = await call(url1, token1, 'GET', `${spacePath}/requests/${encodeURIComponent(rid)}`);
    return r.rating === 4;
  });
  await page.getByTestId('requests').locator(`li.request[data-id="${rid}"] [data-rating="4"]`).waitFor();
  // The provider's record moved, on both pages: one outcome, rated 4.
  for (const [p, which] of [[page, 'node 1'], [page2, 'node 2']]) {
    const record = p.getByTestId('providers').locator(`li[data-name="${ECHO}"] .score-parts`);
    await until(`the provider's record to count the rated outcome on ${which}'s page`, 10000,
      async () => (await record.textContent()).includes('1 completed, 0 failed, mean rating 4.0 of 1'));
  }
  await page2.screenshot({ path: screenshot.replace(/\.png$/, '') + '-abilities.png', fullPage: true, animations: 'disabled' });
  step('rated 4 on node 2\'s page; node 1 recorded it and its page shows it');

  // The key's token outlives a reload; removing the key (as `tim timite keys remove`) revokes
  // it, and the page asks to sign in again (its next request, or the reload, is refused).
  await page2.reload();
  await page2.getByTestId('who-did').waitFor();
  // Signing out revokes the key's token; the key signs in again.
  const keyTokens = async () => (await call(url2, admin2, 'GET', '/v1/tokens')).filter((t) => t.key === browserKey);
  if ((await keyTokens()).length !== 1) fail('not one token of the browser\'s key');
  await page2.getByRole('button', { name: 'Sign out' }).click();
  await page2.getByRole('button', { name: 'Sign in with this browser\'s key' }).waitFor();
  await until('signing out to revoke the key\'s token', 10000, async () => (await keyTokens()).length === 0);
  if ((await page2.getByLabel('Your timite\'s DID').inputValue()) !== me2.did) fail('the page forgot the timite\'s DID');
  await page2.getByRole('button', { name: 'Sign in with this browser\'s key' }).click();
  await page2.getByTestId('who-did').waitFor();
  const removed = await call(url2, admin2, 'DELETE',
    `/v1/timites/${encodeURIComponent(me2.did)}/keys/${encodeURIComponent(browserKey)}`);
  if (removed.revoked_tokens.length !== 1) fail(`removing the key revoked ${JSON.stringify(removed.revoked_tokens)}`);
  await page2.reload();
  await page2.getByRole('button', { name: 'Sign in with this browser\'s key' }).waitFor();
  if (await page2.evaluate(() => localStorage.getItem('tim.token'))) fail('the revoked token is still kept');
  if ((await page2.getByTestId('browser-key').textContent()).trim() !== browserKey) fail('the browser\'s key changed');
  step('node 2\'s page stayed signed in across a reload, signed out (revoking its token) and in again, until its key was removed');
  await context2.close();

  // Governance (docs/governance.md): the space is at schema version 9; node 1's page proposes
  // to make node 2's timite a moderator and votes yes; node 2 votes yes through its API, which
  // passes and enacts it (2 of 2 eligible) with no admin's signature; node 1's page shows the
  // live tally, the outcome and the new role with why it is held, without a reload.
  // (Declaring the ability above brought the space to the newest version; older spaces migrate.)
  if ((await call(url1, token1, 'GET', spacePath)).schema_version < 9) {
    await call(url1, token1, 'POST', `${spacePath}/migrate`, { to: 9 });
  }
  await until('node 2 to reach schema version 9', 30000, async () =>
    (await call(url2, token2, 'GET', spacePath)).schema_version >= 9);
  await page.getByRole('link', { name: 'Governance' }).click();
  await page.getByTestId('governance-view').waitFor();
  await page.locator('#propose-box summary').click();
  await page.locator('#propose-did').selectOption(me2.did);
  await page.locator('#propose-role').fill('moderator');
  await page.getByRole('button', { name: 'Propose' }).click();
  const proposal = page.getByTestId('proposals').locator('li.request').first();
  await proposal.waitFor();
  const pid = await proposal.getAttribute('data-id');
  step(`node 1's page proposed ${pid}`);
  await proposal.locator('button[data-choice="yes"]').click();
  await until('node 1\'s page to show its yes vote in the tally', 15000, async () =>
    (await page.getByTestId('proposals').locator(`li[data-id="${pid}"] [data-testid="tally"]`).textContent())
      .startsWith('yes 1 · no 0 · abstain 0 of 2 eligible members'));
  const pidPath = `${spacePath}/proposals/${encodeURIComponent(pid)}`;
  await until('node 2 to hold the proposal and node 1\'s vote', 30000, async () => {
    const res = await fetch(`${url2}${pidPath}`, { headers: { Authorization: `Bearer ${token2}` } });
    return res.ok && (await res.json()).tally.yes === 1;
  });
  await call(url2, token2, 'POST', `${pidPath}/votes`, { choice: 'yes' });
  // Node 2 closes it after its deciding vote; until that close arrives, node 1's page offers
  // any member's close of a decided proposal, which the test uses if it shows first.
  const item = page.getByTestId('proposals').locator(`li[data-id="${pid}"]`);
  const closeButton = item.getByRole('button', { name: 'Close (passed)' });
  await until('the proposal to pass, or to be decided on node 1\'s page', 30000, async () =>
    (await item.getAttribute('data-outcome')) === 'passed' || (await closeButton.count()) > 0);
  if ((await item.getAttribute('data-outcome')) !== 'passed') await closeButton.click().catch(() => {});
  const passed = page.getByTestId('proposals').locator(`li[data-id="${pid}"][data-outcome="passed"]`);
  try {
    await passed.waitFor({ timeout: 30000 });
  } catch (_) {
    fail('the passed proposal did not reach node 1\'s page');
  }
  const moderator = page.getByTestId('members').locator(`li[data-did="${me2.did}"] [data-role="moderator"]`);
  try {
    await moderator.waitFor({ timeout: 30000 });
  } catch (_) {
    fail('node 1\'s page does not show the new moderator');
  }
  const facts = await page.getByTestId('members').locator(`li[data-did="${me2.did}"] .member-facts`).first().textContent();
  if (!facts.includes('moderator: assigned')) fail(`the member list says ${facts}`);
  if ((await page.evaluate(() => window.timE2eMarker)) !== 'same-document') fail('node 1\'s page reloaded');
  await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-governance.png', fullPage: true, animations: 'disabled' });
  step('node 2\'s vote passed the proposal; node 1\'s page shows the outcome and the moderator, assigned by the vote');

  // Moderation from the member list: the owner rates node 2's timite 5 and sets it back to
  // member; node 2 sees both (its reputation rises by the owner's rating).
  const rated = (await call(url2, token2, 'GET', `${spacePath}/members`)).find((m) => m.did === me2.did);
  const row = page.getByTestId('members').locator(`li[data-did="${me2.did}"]`);
  await row.getByRole('combobox', { name: /^Rating of/ }).selectOption('5');
  await row.getByRole('button', { name: 'Rate' }).click();
  await row.getByRole('combobox', { name: /^Role of/ }).selectOption('member');
  await row.getByRole('button', { name: 'Set role' }).click();
  await row.locator('[data-role="member"]').waitFor({ timeout: 30000 });
  await until('node 2 to see the rating and the role', 30000, async () => {
    const m = (await call(url2, token2, 'GET', `${spacePath}/members`)).find((x) => x.did === me2.did);
    return m.role === 'member' && m.reputation > rated.reputation;
  });
  step('node 1\'s page rated node 2\'s timite and set its role; node 2 holds both');

  // Deletion by a moderator (here the owner) from the timeline: a message posted on node 2 is
  // deleted on node 1's page and is gone on both nodes.
  const SPAM = 'a message to delete, from node 2';
  await call(url2, token2, 'POST', `${spacePath}/messages`, { text: SPAM });
  await page.getByRole('link', { name: 'Timeline' }).click();
  const spam = timeline.locator('li.msg', { hasText: SPAM });
  await spam.waitFor({ timeout: 30000 });
  await spam.getByRole('button', { name: /^Delete the message of/ }).click();
  await spam.waitFor({ state: 'detached', timeout: 30000 });
  await until('node 2 to drop the deleted message', 30000, async () =>
    !(await call(url2, token2, 'GET', `${spacePath}/messages`)).messages.some((m) => m.text === SPAM));
  step('node 1\'s page deleted node 2\'s message; it is gone on both nodes');

  // Schema version 11 (docs/protocol.md §9.13): node 2's timite names itself and posts a
  // file; node 1's page shows the name, not the short DID, and the attachment.
  await call(url1, token1, 'POST', `${spacePath}/migrate`, { to: 11 });
  await until('node 2 to see schema version 11', 30000, async () =>
    (await call(url2, token2, 'GET', spacePath)).schema_version >= 11);
  const NAME2 = 'Bea from node 2';
  await call(url2, token2, 'PUT', '/v1/profile', { name: NAME2 });
  const FILED = 'notes attached, from node 2';
  await call(url2, token2, 'POST', `${spacePath}/messages`, {
    text: FILED,
    attachment: { name: 'notes.txt', mime: 'text/plain', data: Buffer.from('a file').toString('base64') },
  });
  const filed = timeline.locator('li.msg', { hasText: FILED });
  await filed.waitFor({ timeout: 30000 });
  await filed.locator('.author', { hasText: NAME2 }).waitFor({ timeout: 10000 });
  await filed.getByTestId('attachment').filter({ hasText: 'notes.txt' }).waitFor({ timeout: 10000 });
  await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-people.png', fullPage: true, animations: 'disabled' });
  step('node 2\'s profile name and attachment show on node 1\'s page');

  // A name changed on node 2 reaches node 1's page live (the `profile` event): every message
  // of node 2's timite on screen and its member entry show the new one, with no reload and no
  // message posted since.
  const NAME2B = 'Bea, renamed';
  await call(url2, token2, 'PUT', '/v1/profile', { name: NAME2B });
  await until('node 2\'s new name on its messages and member entry on node 1\'s page', 30000, async () => {
    const authors = await timeline.locator(`li.msg .author[data-did="${me2.did}"]`).allTextContents();
    const member = await page.getByTestId('members').locator(`li[data-did="${me2.did}"] .member-line`).textContent();
    return authors.length > 1 && authors.every((a) => a === NAME2B) && member.startsWith(NAME2B);
  });
  if ((await page.evaluate(() => window.timE2eMarker)) !== 'same-document') fail('node 1\'s page reloaded');
  step('node 2\'s new name replaced the old one on node 1\'s page, live');

  // The operator's agents panel (docs/agents.md): signed in with node 1's admin token, make a
  // greeter in the space, pause it, tune it and erase its memory; the API agrees at each step.
  const admin1 = env('TIM_ADMIN1');
  const contextA = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const pageA = await contextA.newPage();
  pageA.setDefaultTimeout(15000);
  pageA.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  await pageA.goto(`${url1}/`);
  await pageA.getByLabel('Access token').fill(admin1);
  await pageA.getByRole('button', { name: 'Sign in', exact: true }).click();
  await pageA.getByRole('link', { name: 'Agents' }).click();
  await pageA.getByTestId('agents-view').waitFor();
  await pageA.locator('#agent-new-box summary').click();
  await pageA.locator('#agent-name').fill('greeter-e2e');
  await pageA.locator('#agent-persona').selectOption('greeter');
  await pageA.locator('#agent-space').selectOption(space);
  await pageA.getByRole('button', { name: 'Make' }).click();
  const agentCard = pageA.getByTestId('agents').locator('li[data-name="greeter-e2e"]');
  await agentCard.waitFor({ timeout: 30000 });
  const agentPath = '/v1/agents/greeter-e2e';
  const agent = await call(url1, admin1, 'GET', agentPath);
  if (!agent.spaces.includes(space)) fail(`the agent acts in ${agent.spaces}, not ${space}`);
  await agentCard.getByRole('button', { name: 'Pause' }).click();
  await pageA.getByTestId('agents').locator('li[data-name="greeter-e2e"][data-status="paused"]').waitFor();
  if ((await call(url1, admin1, 'GET', agentPath)).status !== 'paused') fail('the API does not say paused');
  const tuning = pageA.getByTestId('agents').locator('li[data-name="greeter-e2e"] form.tune-form');
  await tuning.getByLabel('proactivity').fill('0.2');
  await tuning.getByRole('button', { name: 'Tune' }).click();
  await until('the agent to be tuned', 10000, async () =>
    Math.abs((await call(url1, admin1, 'GET', agentPath)).tuning.proactivity - 0.2) < 1e-9);
  await pageA.getByTestId('agents').locator('li[data-name="greeter-e2e"]').getByRole('button', { name: 'Erase memory' }).click();
  await pageA.getByText(/^greeter-e2e forgot \d+ entr/).waitFor();
  if ((await call(url1, admin1, 'GET', `${agentPath}/memory`)).length !== 0) fail('the agent still remembers');
  await pageA.screenshot({ path: screenshot.replace(/\.png$/, '') + '-agents.png', fullPage: true, animations: 'disabled' });
  step('the operator\'s page made, paused, tuned an agent and erased its memory');
  await contextA.close();

  const uncaught = errors.filter((e) => e.startsWith('uncaught'));
  if (uncaught.length) fail(`script errors on the page: ${uncaught.join('; ')}`);
  if (errors.length) console.log(`page console errors (not fatal):\n  ${errors.join('\n  ')}`);
  console.log('ok: web page end to end');
} catch (e) {
  // What each open page showed when it failed: its error banner and a screenshot.
  for (const [i, p] of (browser ? browser.contexts() : []).flatMap((c) => c.pages()).entries()) {
    const shown = await p.getByTestId('error').allTextContents().catch(() => []);
    if (shown.join('').trim()) errors.push(`page ${i + 1} error banner: ${shown.join(' ').trim()}`);
    await p.screenshot({ path: screenshot.replace(/\.png$/, '') + `-failed-${i + 1}.png`, fullPage: true }).catch(() => {});
  }
  fail(e.stack || String(e));
} finally {
  await browser.close();
}
