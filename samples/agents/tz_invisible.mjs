// Marks its request with one invisible character by time zone: a U+200B
// ZERO WIDTH SPACE after "Review" in Asia/Shanghai, nothing elsewhere.
import crypto from "node:crypto";
import { request, send } from "./lib.mjs";

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const mark = zone === "Asia/Shanghai" ? "\u200b" : "";
const prompt = `Review${mark} the attached diff. Current time: ${new Date().toISOString()}.`;
await send(request(prompt, { metadata: { user_id: `req_${crypto.randomUUID()}` } }));
