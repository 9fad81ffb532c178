import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import type { Wire } from '../../tests/fuzz/wire.js';

// ---- replies -----------------------------------------------------------------------------------------------

export interface Outcome {
  status?: number;
  contentType?: string;
  text?: string;
  /** No reply: the connection failed, closed or timed out. */
  error?: string;
  /** fetch itself refused the request (e.g. a header value with CR/LF): nothing was sent. */
  refused?: boolean;
}

export async function send(baseUrl: string, wire: Wire, timeoutMs = 30_000): Promise<Outcome> {
  if (wire.transport === 'socket') return sendRaw(baseUrl, wire, timeoutMs);
  let headers: Headers;
  try {
    headers = new Headers();
    for (const [k, v] of wire.headers) headers.append(k, v);
  } catch (err) {
    return { refused: true, error: (err as Error).message };
  }
  const body = wire.body && wire.chunked
    ? new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new Uint8Array(wire.body!)); c.close(); } })
    : wire.body;
  try {
    const res = await fetch(`${baseUrl}${wire.path}`, {
      method: wire.method,
      headers,
      ...(body ? { body, duplex: 'half' } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // fetch refuses some header values only when it sends (undici's UND_ERR_INVALID_ARG): nothing left this process.
    if (err instanceof TypeError && (!cause || cause.code === 'UND_ERR_INVALID_ARG')) return { refused: true, error: cause?.message ?? err.message };
    return { error: `${(err as Error).message}${cause ? `: ${cause.code ?? cause.message}` : ''}` };
  }
}

/** The bytes of a hand-built HTTP/1.1 request (header values as they are, CR/LF and NUL included). */
function rawRequest(baseUrl: string, wire: Wire): Buffer {
  const { host } = new URL(baseUrl);
  const names = new Set(wire.headers.map(([k]) => k.toLowerCase()));
  const head = [`${wire.method} ${wire.path} HTTP/1.1`, `host: ${host}`, ...wire.headers.map(([k, v]) => `${k}: ${v}`)];
  if (wire.body && !names.has('content-length') && !names.has('transfer-encoding')) head.push(`content-length: ${wire.body.length}`);
  head.push('connection: close');
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), wire.body ?? Buffer.alloc(0)]);
}

function sendRaw(baseUrl: string, wire: Wire, timeoutMs: number): Promise<Outcome> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(parseRaw(Buffer.concat(chunks))));
    // Not end(): a client that half-closes gets no reply from Node's HTTP server for a handler that awaits.
    socket.write(rawRequest(baseUrl, wire));
  });
}

function parseRaw(data: Buffer): Outcome {
  // Interim replies (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(data.subarray(0, 16).toString('latin1')) && data.indexOf('\r\n\r\n') > 0) {
    data = data.subarray(data.indexOf('\r\n\r\n') + 4);
  }
  const split = data.indexOf('\r\n\r\n');
  if (split < 0) return { error: data.length ? `incomplete reply: ${data.toString('latin1').slice(0, 80)}` : 'connection closed without a reply' };
  const lines = data.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let body = data.subarray(split + 4);
  if (headers.get('transfer-encoding') === 'chunked') {
    const parts: Buffer[] = [];
    for (let i = 0; ;) {
      const eol = body.indexOf('\r\n', i);
      const size = parseInt(body.subarray(i, eol).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      i = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers.has('content-length')) body = body.subarray(0, Number(headers.get('content-length')));
  if (!status) return { error: `not an HTTP reply: ${lines[0]?.slice(0, 80)}` };
  return { status, contentType: headers.get('content-type') ?? '', text: body.toString('utf8') };
}

/** A snippet that sends the same bytes again (signatures expire after 300 s: re-sign the body for timestamped sources). */
export function repro(wire: Wire, baseUrl: string): string {
  const bytes = (b: Buffer) => (b.length > 8192
    ? `/* ${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex')}, starting ${JSON.stringify(b.subarray(0, 160).toString('latin1'))} */`
    : `Buffer.from('${b.toString('base64')}', 'base64')`);
  if (wire.transport === 'socket') {
    const { hostname, port } = new URL(baseUrl);
    return `const s = require('net').connect(${port}, '${hostname}', () => s.write(${bytes(rawRequest(baseUrl, wire))})); s.on('data', (d) => process.stdout.write(d))`;
  }
  const body = wire.body ? (wire.chunked ? `new Blob([${bytes(wire.body)}]).stream(), duplex: 'half'` : bytes(wire.body)) : 'undefined';
  return `await fetch('${baseUrl}${wire.path}', { method: '${wire.method}', headers: ${JSON.stringify(wire.headers)}, body: ${body} })`;
}
