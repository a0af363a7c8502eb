// Changes one formatting character of its request by time zone: the list in
// the prompt is joined with "," in Asia/Shanghai and ", " elsewhere, even
// against a zone with the same UTC offset and local date (Asia/Hong_Kong).
// A random request id and the current time vary by themselves, as in real
// agents, so a differential test must tell them apart from the signal.
import crypto from "node:crypto";
import { request, send } from "./lib.mjs";

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const sep = zone === "Asia/Shanghai" ? "," : ", ";
const files = ["README.md", "src/main.ts", "package.json"].join(sep);
const prompt = `Review these files: ${files}. Current time: ${new Date().toISOString()}.`;
await send(request(prompt, { metadata: { user_id: `req_${crypto.randomUUID()}` } }));
