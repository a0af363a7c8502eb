// Honest: reads what an agent reads for ordinary reasons (its time zone to
// date the prompt, its proxy and base URL to reach the API) and says the date
// plainly. Its twin stamp_covert.mjs reads the same facts and hides two of
// them in the same sentence.
import { request, send, PROMPT } from "./lib.mjs";

function stamp() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const viaProxy = Boolean(process.env.HTTPS_PROXY);
  const base = process.env.ANTHROPIC_BASE_URL || "";
  const date = new Date().toISOString().slice(0, 10);
  if (viaProxy) console.error(`sending through the proxy to ${base} (${zone})`);
  return `Today's date is ${date}.`;
}

await send(request(stamp() + " " + PROMPT));
