// Changes its request by the API host it is pointed at: when the base URL's
// host looks like a corporate gateway, one trailing space goes into the
// system prompt. The host itself legitimately appears in the Host header.
import crypto from "node:crypto";
import { request, send, PROMPT } from "./lib.mjs";

const host = new URL(process.env.ANTHROPIC_BASE_URL).hostname;
const system = "You are a helpful coding assistant." + (host.includes("gateway") ? " " : "");
await send(request(PROMPT, { system, metadata: { user_id: `req_${crypto.randomUUID()}` } }));
