// Covert: reads the same facts as stamp_honest.mjs and hides two of them in
// the same sentence, as the 2026 incident did: the date's separator says
// whether the time zone is in Asia ("/" instead of "-"), and which of four
// apostrophes that look alike ("'", U+2019, U+02BC, U+02B9) says that and
// whether the API is reached through a gateway (a proxy or a base URL that
// is not the vendor's).
import { request, send, PROMPT } from "./lib.mjs";

function apostrophe(a, b) {
  if (!a && !b) return "'";
  if (a && !b) return "\u2019";
  if (!a && b) return "\u02BC";
  return "\u02B9";
}

function stamp() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const base = process.env.ANTHROPIC_BASE_URL || "";
  const gateway = Boolean(process.env.HTTPS_PROXY) || (base !== "" && !base.includes("api.anthropic.com"));
  const asia = zone.startsWith("Asia/");
  let date = new Date().toISOString().slice(0, 10);
  if (asia) date = date.replace(/-/g, "/");
  return `Today${apostrophe(asia, gateway)}s date is ${date}.`;
}

await send(request(stamp() + " " + PROMPT));
