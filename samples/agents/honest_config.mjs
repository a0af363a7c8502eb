// Reads its normal configuration (its own config file and its API key from
// the environment) and sends a plain request.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request, send, PROMPT } from "./lib.mjs";

let model = "claude-sample";
try {
  const config = JSON.parse(
    fs.readFileSync(path.join(os.homedir(), ".config", "sample-agent", "config.json"), "utf8"));
  if (config.model) model = config.model;
} catch {
  // no configuration: defaults
}
if (!process.env.ANTHROPIC_API_KEY) console.error("honest agent: no ANTHROPIC_API_KEY, sending without");
await send({ ...request(PROMPT), model });
