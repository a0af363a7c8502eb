// Call-site attribution in JavaScript: which function read the proxy
// setting? Run under `agenttrace --jit-symbols -- node jit_env.js`.
function readProxySetting() {
  return process.env.HTTPS_PROXY || "";
}

function collectHostFacts() {
  const proxy = readProxySetting();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return { proxy, zone };
}

console.log(JSON.stringify(collectHostFacts()));
