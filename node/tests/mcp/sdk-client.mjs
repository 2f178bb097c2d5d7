// Drives a Tim node's MCP server with the official TypeScript SDK's client (run by
// node/tests/mcp_server.rs): connects over streamable HTTP with a bearer token, lists the tools,
// posts a message with the `post` tool, reads it back with `read`, and checks that the same
// connection without the token is refused. Exits non-zero on any mismatch.
//
// Environment: TIM_MCP_URL (the node's /mcp), TIM_TOKEN, TIM_SPACE (a space id the token's
// timite is a member of), TIM_DID (that timite's DID).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { TIM_MCP_URL: url, TIM_TOKEN: token, TIM_SPACE: space, TIM_DID: did } = process.env;

function check(ok, what, detail) {
  if (!ok) {
    console.error(`FAILED: ${what}`, detail === undefined ? '' : JSON.stringify(detail));
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function connect(headers) {
  const client = new Client({ name: 'tim-sdk-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return client;
}

const client = await connect({ Authorization: `Bearer ${token}` });
check(client.getServerVersion()?.name === 'tim', 'the server is tim', client.getServerVersion());

const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
for (const name of ['list_spaces', 'read', 'post', 'members', 'search_abilities', 'invoke',
  'request', 'my_requests', 'claim', 'answer', 'rate']) {
  check(names.includes(name), `tools/list has ${name}`, names);
}

const text = `hello from the TypeScript SDK ${Date.now()}`;
const posted = await client.callTool({ name: 'post', arguments: { space, text } });
check(!posted.isError, 'post succeeded', posted);
const id = posted.structuredContent?.id;
check(typeof id === 'string', 'post answered the message id', posted);

const read = await client.callTool({ name: 'read', arguments: { space, limit: 5 } });
check(!read.isError, 'read succeeded', read);
const first = read.structuredContent?.messages?.[0];
check(first?.id === id && first?.text === text, 'read gives the message back', first);
check(first?.author === did, "the message is the token's timite's", first);

const refused = await client.callTool({ name: 'post', arguments: { space: 'nowhere', text } })
  .then((r) => ({ result: r }), (e) => ({ error: e }));
check(refused.error?.code === -32602, 'a space that names nothing is a protocol error', refused);

await client.close();

let unauthorized;
try {
  await connect({});
} catch (e) {
  unauthorized = e;
}
check(unauthorized !== undefined && /401|nauthorized/.test(String(unauthorized)),
  'no token: refused', String(unauthorized));
