// A client that sends credentials the way agents do: its API key in an
// x-api-key header, a bearer token, a key in its JSON body, and a base64 copy
// of the key hidden in the body (a value echo). It serves itself on loopback,
// so the test needs nothing else. agenttrace must keep none of these bytes
// (tests/bpf/security_test.cpp) unless --keep-secrets.
import http from 'node:http';

const key = process.env.ANTHROPIC_API_KEY || '';
const server = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => { n += c.length; });
  req.on('end', () => res.end('ok ' + n));
});
server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  const body = JSON.stringify({
    model: 'claude-x',
    api_key: 'json-body-secret-0123456789',
    metadata: { note: Buffer.from(key).toString('base64') },
    messages: [{ role: 'user', content: 'hi' }],
  });
  const r = await fetch(`http://127.0.0.1:${port}/v1/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': key,
      authorization: 'Bearer sk-bearer-0123456789abcdefghijklmn',
      'content-type': 'application/json',
    },
    body,
  });
  console.log('status', r.status, await r.text());
  server.close();
});
