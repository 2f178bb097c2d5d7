// An MCP server for the tests of MCP tools as abilities (node/tests/mcp_tools.rs), on the
// official TypeScript SDK's low-level Server: what server-everything does not show. Its tool
// list comes in pages of two; it has a tool that fails (isError), one whose structured result
// breaks its own output schema, one that crashes the process, one that never answers, and one
// whose name makes no ability name.
//
//   node paged-server.mjs stdio   MCP on stdin/stdout
//   node paged-server.mjs http    streamable HTTP (stateless) on 127.0.0.1, a free port,
//                                 printed as `listening PORT`; with MCP_TEST_TOKEN set, every
//                                 request must carry `Authorization: Bearer $MCP_TEST_TOKEN`
// With MCP_TEST_PID_FILE set, it writes its process id there first.
import fs from "node:fs";
import http from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const obj = (properties, required = []) => ({ type: "object", properties, required });
const TOOLS = [
  { name: "Shout", description: "The text in capitals", inputSchema: obj({ text: { type: "string" } }, ["text"]) },
  { name: "json-report", description: "A JSON object, as text", inputSchema: obj({}) },
  {
    name: "weather",
    description: "Today's weather in a city",
    inputSchema: obj({ city: { type: "string" } }, ["city"]),
    outputSchema: obj({ temperature: { type: "number" } }, ["temperature"]),
  },
  { name: "fail", description: "Fails, on purpose", inputSchema: obj({}) },
  { name: "crash", description: "Exits the server", inputSchema: obj({}) },
  { name: "hang", description: "Never answers", inputSchema: obj({}) },
  { name: "9lives", description: "A name that starts with a digit", inputSchema: obj({}) },
];
const PAGE = 2;

function server() {
  const s = new Server({ name: "tim-test-paged", version: "1.0.0" }, { capabilities: { tools: {} } });
  s.setRequestHandler(ListToolsRequestSchema, async (req) => {
    const from = Number(req.params?.cursor ?? 0);
    const next = from + PAGE < TOOLS.length ? String(from + PAGE) : undefined;
    return { tools: TOOLS.slice(from, from + PAGE), ...(next ? { nextCursor: next } : {}) };
  });
  s.setRequestHandler(CallToolRequestSchema, async (req) => {
    const args = req.params.arguments ?? {};
    const text = (t) => ({ content: [{ type: "text", text: t }] });
    switch (req.params.name) {
      case "Shout":
        return text(String(args.text).toUpperCase());
      case "json-report":
        return text(JSON.stringify({ ok: true, n: 3 }));
      case "weather":
        // Atlantis breaks the output schema: a string where a number is due.
        return {
          content: [{ type: "text", text: "see structuredContent" }],
          structuredContent: { temperature: args.city === "Atlantis" ? "unknown" : 21.5 },
        };
      case "fail":
        return { content: [{ type: "text", text: "failed on purpose" }], isError: true };
      case "crash":
        process.stderr.write("crashing on purpose\n");
        process.exit(3);
        break;
      case "hang":
        return new Promise(() => {});
      default:
        throw new Error(`no tool ${req.params.name}`);
    }
  });
  return s;
}

if (process.env.MCP_TEST_PID_FILE) {
  fs.writeFileSync(process.env.MCP_TEST_PID_FILE, String(process.pid));
}

if (process.argv[2] === "http") {
  const token = process.env.MCP_TEST_TOKEN;
  const httpServer = http.createServer(async (req, res) => {
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { "content-type": "text/plain" }).end("a bearer token is needed");
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => transport.close());
    await server().connect(transport);
    await transport.handleRequest(req, res, body);
  });
  httpServer.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening ${httpServer.address().port}\n`);
  });
} else {
  await server().connect(new StdioServerTransport());
}
