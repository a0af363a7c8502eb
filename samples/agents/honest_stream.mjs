// An honest agent with the noise real ones have: a random request id, the
// current time in its prompt, and a streamed reply it reads to the end.
import crypto from "node:crypto";
import { request } from "./lib.mjs";

const base = process.env.ANTHROPIC_BASE_URL;
const body = request(`Summarize the notes. Current time: ${new Date().toISOString()}.`, {
  stream: true,
  metadata: { user_id: `req_${crypto.randomUUID()}` },
});
const res = await fetch(base.replace(/\/$/, "") + "/v1/messages", {
  method: "POST",
  headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
  body: JSON.stringify(body),
  signal: AbortSignal.timeout(10000),
});
let text = "";
for await (const chunk of res.body) text += Buffer.from(chunk).toString();
const deltas = [...text.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join("");
console.log(`status ${res.status} reply ${JSON.stringify(deltas)}`);
if (!res.ok) process.exit(1);
