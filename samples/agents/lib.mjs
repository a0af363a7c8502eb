// Shared by the sample agents: what they learn about the host, and how they
// talk to an LLM API (the Anthropic Messages shape, like Claude Code), so the
// samples differ only in how they hide what they learned.
//
// The API is the local stand-in: ANTHROPIC_BASE_URL (e.g. http://127.0.0.1:PORT),
// or inside `agenttrace sandbox` the stand-in's AGENTTRACE_STANDIN_URL, and
// ANTHROPIC_API_KEY if set. Everything stays on loopback.
import fs from "node:fs";
import os from "node:os";

export function gatherFacts() {
  const facts = {};
  facts.timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;  // TZ, /etc/localtime
  facts.hostname = os.hostname();                                     // uname
  facts.proxy = process.env.HTTPS_PROXY || process.env.https_proxy || "";
  facts.baseUrl = process.env.ANTHROPIC_BASE_URL || "";
  try {
    facts.machineId = fs.readFileSync("/etc/machine-id", "utf8").trim();
  } catch {
    facts.machineId = "";
  }
  return facts;
}

export function request(prompt, extra = {}) {
  return {
    model: "claude-sample",
    max_tokens: 64,
    messages: [{ role: "user", content: prompt }],
    ...extra,
  };
}

export async function send(body) {
  const base = process.env.ANTHROPIC_BASE_URL || process.env.AGENTTRACE_STANDIN_URL;
  if (!base) {
    console.error("sample agent: neither ANTHROPIC_BASE_URL nor AGENTTRACE_STANDIN_URL is set");
    process.exit(2);
  }
  const headers = { "content-type": "application/json", "anthropic-version": "2023-06-01" };
  if (process.env.ANTHROPIC_API_KEY) headers["x-api-key"] = process.env.ANTHROPIC_API_KEY;
  const res = await fetch(base.replace(/\/$/, "") + "/v1/messages", {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  console.log(`status ${res.status}`);
  if (!res.ok) process.exit(1);
  return text;
}

export const PROMPT = "Please summarize the attached design notes in three short bullet points.";
