// The Node.js workload of the overhead benchmark: starts, reads its
// configuration (a JSON file and a few environment variables, as agents
// do), then makes 200 HTTP requests, one after another, to the local
// stand-in whose URL it is given. Prints the time the requests took.
//   node node_requests.mjs http://127.0.0.1:PORT CONFIG.json [COUNT]
import fs from "node:fs";
import http from "node:http";

const [base, configPath, countArg] = process.argv.slice(2);
const count = Number(countArg || 200);
const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
const env = ["HOME", "HTTPS_PROXY", "NO_PROXY", "ANTHROPIC_BASE_URL", "TZ", "LANG"].map((k) => process.env[k] || "");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model: config.model, max_tokens: 64, messages: [{ role: "user", content: "say hi ".repeat(200) }], env: env.length });

function post() {
  return new Promise((resolve, reject) => {
    const req = http.request(base + "/v1/messages", { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const t0 = process.hrtime.bigint();
for (let i = 0; i < count; i++) await post();
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(`${count} requests in ${ms.toFixed(1)} ms`);
agent.destroy();
