import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/**
 * The webhook fuzzer's request model and the hand-written corpus of nasties. A request is a `Spec`: plain data
 * (so fast-check can print and shrink it) that `materialize` turns into bytes on the wire, signed at send time
 * with the real scheme of its source. Every id in a body carries the placeholder `@@T@@`, replaced by a token
 * unique to the request, so that any row in PostgreSQL can be traced back to the request that stored it.
 */

export const SOURCES = ['langfuse', 'langwatch', 'custom', 'standard'] as const;
export type SourceName = (typeof SOURCES)[number];

export const FUZZ_SECRETS: Record<SourceName, string> = {
  langfuse: 'fuzz-langfuse-secret',
  langwatch: 'fuzz-langwatch-secret',
  custom: 'fuzz-custom-secret',
  standard: `whsec_${Buffer.from('fuzz-standard-webhooks-key-32byt').toString('base64')}`,
};

/** The service variables that configure the fuzz secrets. */
export const FUZZ_SECRET_ENV: Record<string, string> = Object.fromEntries(
  SOURCES.map((s) => [`${s.toUpperCase()}_WEBHOOK_SECRET`, FUZZ_SECRETS[s]]),
);

/** Replaced by the request's token (`fz-<run>-<n>z`) wherever it appears in a body or header value. */
export const T = '@@T@@';
/** A JSON value written verbatim (numbers JSON.stringify cannot spell: 1e400, -0, 1E2). */
export const raw = (literal: string) => `@@RAW:${literal}@@`;

export type BodySpec =
  | { json: unknown; mutate?: { op: 'truncate' | 'flip' | 'insert' | 'delete'; at: number; byte: number } }
  | { text: string }
  | { base64: string }
  | { gzip: unknown }
  /** `head`, then `fill` (one byte) repeated until the body is `size` bytes, then `tail`. */
  | { huge: { head: string; fill: string; size: number; tail: string } };

export interface SignSpec {
  skew?: number;
  algo?: 'sha1';
  secret?: string;
  /** Sign other bytes than those sent. */
  otherBody?: boolean;
  mangle?: { op: 'replace' | 'truncate' | 'flip' | 'upper' | 'pad' | 'dupe' | 'reverse' | 'prefix'; at: number; text: string };
}

export interface Expect {
  status: number[];
  codes?: string[];
  /** The error message starts with this (a schema error names its field path first). */
  messageStarts?: string;
  messageIncludes?: string;
  /** The server may close the connection instead of replying (a body far over the limit, CONNECT). */
  closeOk?: boolean;
}

export interface Spec {
  label: string;
  /** The `:source` path segment (may be hostile). */
  source: string;
  method?: string;
  /** Replaces `/live-data/webhooks/<source>`. */
  path?: string;
  /** Default application/json; null sends none. */
  contentType?: string | null;
  body?: BodySpec;
  sign?: SignSpec | 'none';
  /** Extra headers; they replace the signed ones of the same name, unless the name starts with `+` (then both are sent). */
  headers?: [string, string][];
  drop?: string[];
  /** A hand-built HTTP/1.1 request over a socket, for what fetch refuses to send. */
  transport?: 'socket';
  chunked?: boolean;
  /** Send the same bytes this many times (a replay); each reply must meet `expect`. */
  times?: number;
  expect: Expect;
}

export interface Wire {
  label: string;
  token: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: Buffer;
  transport: 'fetch' | 'socket';
  chunked: boolean;
}

export interface Ctx {
  token: string;
  nowSeconds: number;
}

const fill = (text: string, token: string) =>
  text.replace(/"@@RAW:(.*?)@@"/g, '$1').replaceAll(T, token);

function bodyBytes(body: BodySpec | undefined, token: string): Buffer | undefined {
  if (!body) return undefined;
  if ('text' in body) return Buffer.from(fill(body.text, token), 'utf8');
  if ('base64' in body) {
    const bytes = Buffer.from(body.base64, 'base64');
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = bytes.indexOf(T); i >= 0; i = bytes.indexOf(T, from)) {
      parts.push(bytes.subarray(from, i), Buffer.from(token));
      from = i + T.length;
    }
    return Buffer.concat([...parts, bytes.subarray(from)]);
  }
  if ('gzip' in body) return gzipSync(fill(JSON.stringify(body.gzip), token));
  if ('huge' in body) {
    const head = Buffer.from(fill(body.huge.head, token));
    const tail = Buffer.from(fill(body.huge.tail, token));
    return Buffer.concat([head, Buffer.alloc(Math.max(0, body.huge.size - head.length - tail.length), body.huge.fill), tail]);
  }
  const bytes = Buffer.from(fill(JSON.stringify(body.json) ?? 'null', token), 'utf8');
  if (!body.mutate || bytes.length === 0) return bytes;
  // Mutations keep clear of the tokens, so a mutated body can never name another request's token.
  let at = Math.min(bytes.length - 1, Math.floor(body.mutate.at * bytes.length));
  for (let i = bytes.indexOf(token); i >= 0; i = bytes.indexOf(token, i + 1)) {
    if (at >= i && at < i + token.length) at = i + token.length;
  }
  at = Math.min(at, bytes.length - 1);
  switch (body.mutate.op) {
    case 'truncate':
      return bytes.subarray(0, at);
    case 'flip':
      bytes[at] = bytes[at]! ^ (body.mutate.byte || 1);
      return bytes;
    case 'insert':
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([body.mutate.byte]), bytes.subarray(at)]);
    case 'delete':
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
  }
}

const hmac = (algo: string, key: string | Buffer, ...parts: (string | Buffer)[]) => {
  const h = createHmac(algo, key);
  for (const p of parts) h.update(p);
  return h.digest();
};

function mangle(value: string, m: NonNullable<SignSpec['mangle']>): string {
  const at = Math.floor(m.at * value.length);
  switch (m.op) {
    case 'replace': return m.text;
    case 'truncate': return value.slice(0, at);
    case 'flip': return value.slice(0, at) + (value[at] === '0' ? '1' : '0') + value.slice(at + 1);
    case 'upper': return value.toUpperCase();
    case 'pad': return `${m.text}${value}${m.text}`;
    case 'dupe': return `${value},${value}`;
    case 'reverse': return value.split(',').reverse().join(',');
    case 'prefix': return value.slice(0, at) + m.text + value.slice(at);
  }
}

/** The headers a real sender of `source` puts on `body` (an unknown source is signed like `custom`). */
export function signatureHeaders(source: string, body: Buffer, ctx: Ctx, spec: SignSpec = {}): [string, string][] {
  const t = ctx.nowSeconds + (spec.skew ?? 0);
  const signed = spec.otherBody ? Buffer.concat([body, Buffer.from(' ')]) : body;
  const known = (SOURCES as readonly string[]).includes(source) ? (source as SourceName) : 'custom';
  const secret = spec.secret ?? FUZZ_SECRETS[known];
  const out: [string, string][] = [];
  let primary: [string, string];
  if (known === 'langfuse' || known === 'langwatch') {
    primary = [`x-${known}-signature`, `t=${t},v1=${hmac('sha256', secret, `${t}.`, signed).toString('hex')}`];
    if (known === 'langwatch') out.push(['x-langwatch-delivery-id', `${ctx.token}-dlv`]);
  } else if (known === 'custom') {
    const algo = spec.algo ?? 'sha256';
    primary = ['x-signature', `${algo}=${hmac(algo, secret, signed).toString('hex')}`];
  } else {
    const id = `${ctx.token}-msg`;
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    out.push(['webhook-id', id], ['webhook-timestamp', String(t)]);
    primary = ['webhook-signature', `v1,${hmac('sha256', key, `${id}.${t}.`, signed).toString('base64')}`];
  }
  if (spec.mangle) primary = [primary[0], mangle(primary[1], spec.mangle)];
  return [...out, primary];
}

export function materialize(spec: Spec, ctx: Ctx): Wire {
  const body = bodyBytes(spec.body, ctx.token);
  let headers: [string, string][] = [];
  if (spec.contentType !== null) headers.push(['content-type', spec.contentType ?? 'application/json']);
  if (spec.sign !== 'none') headers.push(...signatureHeaders(spec.source, body ?? Buffer.alloc(0), ctx, spec.sign));
  if (spec.body && 'gzip' in spec.body) headers.push(['content-encoding', 'gzip']);
  const extra = (spec.headers ?? []).map(([k, v]): [string, string] => [k.replace(/^\+/, ''), fill(v, ctx.token)]);
  const replaced = new Set((spec.headers ?? []).map(([k]) => k.toLowerCase()).filter((k) => !k.startsWith('+')));
  const dropped = new Set([...(spec.drop ?? []), ...replaced]);
  headers = [...headers.filter(([k]) => !dropped.has(k)), ...extra];
  return {
    label: spec.label,
    token: ctx.token,
    method: spec.method ?? 'POST',
    path: spec.path ?? `/live-data/webhooks/${spec.source}`,
    headers,
    ...(body ? { body } : {}),
    transport: spec.transport ?? 'fetch',
    chunked: spec.chunked ?? false,
  };
}
