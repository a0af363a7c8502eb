// node fetch_client.mjs [--stream] URL BODY_FILE
//
// Posts BODY_FILE's bytes as JSON with Node's built-in fetch (undici), the
// HTTP stack most JavaScript agent CLIs use, so agenttrace tests can check
// how that stack's traffic is captured. Node >= 18, no npm packages.
//
// Prints "status: <code>" and then the response text; exits 0 on 2xx, 1 on
// another status, 2 on usage or network errors.
//
// --stream asks for server-sent events and prints only the streamed text:
//   - "stream": true is added to the JSON body (if the file already says so,
//     its bytes are sent unchanged; otherwise the body is re-serialised
//     compactly with JSON.stringify),
//   - except for a Gemini :streamGenerateContent URL, which gets alt=sse
//     instead and keeps its body unchanged,
//   - Accept: text/event-stream is sent.
//
// HTTPS with the stand-in's self-signed certificate: Node reads extra trust
// anchors only at start-up, from the environment, so run
//   NODE_EXTRA_CA_CERTS=/path/to/cert.pem node fetch_client.mjs https://127.0.0.1:PORT/... body.json
// (cert.pem from make-cert.sh). Nothing here disables verification.
//
// Only loopback hosts are accepted, and the whole exchange, response body
// included, is aborted after 10 s, so the program always exits by itself.
import { readFileSync } from 'node:fs';

const TIMEOUT_MS = 10_000;

function usage(msg) {
  if (msg) console.error(`fetch_client: ${msg}`);
  console.error('usage: node fetch_client.mjs [--stream] URL BODY_FILE');
  process.exit(2);
}

function isLoopback(hostname) {
  // WHATWG URL keeps the brackets around IPv6 hosts.
  return hostname === 'localhost' || hostname === '[::1]' ||
         /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// Pulls the text out of one SSE data payload, whichever API shape it is.
function streamedText(data) {
  let ev;
  try { ev = JSON.parse(data); } catch { return ''; }  // e.g. "[DONE]"
  if (ev.type === 'content_block_delta') return ev.delta?.text ?? '';         // Anthropic
  if (ev.type === 'response.output_text.delta') return ev.delta ?? '';        // OpenAI Responses
  if (ev.object === 'chat.completion.chunk')                                  // OpenAI Chat
    return ev.choices?.[0]?.delta?.content ?? '';
  if (ev.candidates)                                                          // Gemini
    return (ev.candidates[0]?.content?.parts ?? []).map(p => p.text ?? '').join('');
  return '';
}

async function main() {
  const args = process.argv.slice(2);
  const stream = args.includes('--stream');
  const rest = args.filter(a => a !== '--stream');
  if (rest.length !== 2) usage();
  const [urlArg, bodyFile] = rest;

  let url;
  try { url = new URL(urlArg); } catch { usage(`bad URL ${urlArg}`); }
  if (!['http:', 'https:'].includes(url.protocol)) usage('URL must be http:// or https://');
  if (!isLoopback(url.hostname)) usage(`${url.hostname} is not a loopback host`);

  let body = readFileSync(bodyFile);  // a Buffer: sent as-is, with Content-Length
  const headers = { 'content-type': 'application/json' };
  if (stream) {
    headers.accept = 'text/event-stream';
    if (url.pathname.endsWith(':streamGenerateContent')) {
      // Gemini streams by URL; its body has no "stream" field.
      if (!url.searchParams.has('alt')) url.searchParams.set('alt', 'sse');
    } else {
      const doc = JSON.parse(body.toString('utf8'));
      if (doc.stream !== true) body = JSON.stringify({ ...doc, stream: true });
    }
  }

  // One signal bounds connect, request, response headers and body reading.
  const res = await fetch(url, { method: 'POST', headers, body,
                                 signal: AbortSignal.timeout(TIMEOUT_MS) });
  console.log(`status: ${res.status}`);

  if (!stream || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const text = await res.text();
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  } else {
    // Events are separated by a blank line; print each text delta as it arrives.
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
      let cut;
      while ((cut = pending.indexOf('\n\n')) >= 0) {
        const event = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        const data = event.split('\n').filter(l => l.startsWith('data:'))
                          .map(l => l.slice(5).replace(/^ /, '')).join('\n');
        process.stdout.write(streamedText(data));
      }
    }
    process.stdout.write('\n');
  }
  process.exitCode = res.ok ? 0 : 1;
}

main().catch(err => {
  // fetch reports the real reason (ECONNREFUSED, certificate errors) in cause.
  console.error(`fetch_client: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`);
  process.exit(2);
});
