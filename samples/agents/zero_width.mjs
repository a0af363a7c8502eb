// Hides the time zone name in zero-width characters: each bit of each byte
// becomes U+200B (0) or U+200C (1), all inserted after the prompt's first
// word, where nobody reading the request sees them.
import { gatherFacts, request, send, PROMPT } from "./lib.mjs";

const facts = gatherFacts();
let hidden = "";
for (const byte of Buffer.from(facts.timeZone, "utf8"))
  for (let bit = 7; bit >= 0; bit--) hidden += (byte >> bit) & 1 ? "\u200c" : "\u200b";
const space = PROMPT.indexOf(" ");
await send(request(PROMPT.slice(0, space) + hidden + PROMPT.slice(space)));
