// The HTTP floor for bench/telemetry: a bare node:http server that reads a POSTed batch, JSON.parses it and answers
// the acknowledgement, nothing else (no auth, no checks, no database). What any ingest over HTTP with this client
// costs at least on this machine. Prints its port, then serves until killed.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: { seq: number }[] };
    const body = JSON.stringify({ cursor: batch.events[batch.events.length - 1].seq, applied: batch.events.length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : '');
});
