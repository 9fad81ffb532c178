import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { unauthorized } from '../http/errors.js';

/**
 * Signature schemes, checked over the raw body bytes before anything is parsed. Each verifier throws a 401
 * HttpError (`missing_signature`, `invalid_signature` or `stale_timestamp`) or returns what the scheme
 * vouches for (the signed timestamp and delivery id, when it has them).
 */
export interface VerifyInput {
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  secrets: readonly string[];
  nowSeconds: number;
  toleranceSeconds: number;
}

export interface Verified {
  timestampSeconds?: number;
  deliveryId?: string;
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const missing = (name: string) => unauthorized('missing_signature', `missing ${name} header`);
const invalid = (message = 'signature does not match the body') => unauthorized('invalid_signature', message);

function checkTimestamp(timestamp: number, input: VerifyInput): void {
  if (Math.abs(input.nowSeconds - timestamp) > input.toleranceSeconds) {
    throw unauthorized(
      'stale_timestamp',
      `signature timestamp ${timestamp} is more than ${input.toleranceSeconds} s away from the server's clock`,
    );
  }
}

/** Compares two hex digests in constant time; digests of another length or not hex never match. */
function hexDigestMatches(expected: Buffer, candidateHex: string): boolean {
  if (candidateHex.length !== expected.length * 2 || !/^[0-9a-fA-F]+$/.test(candidateHex)) return false;
  return timingSafeEqual(expected, Buffer.from(candidateHex, 'hex'));
}

/**
 * Langfuse and LangWatch: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. During a
 * secret rotation the sender puts one `v1=` per secret; any one matching any of our secrets verifies.
 */
export function verifyTimestampedHmac(headerName: string) {
  return (input: VerifyInput): Verified => {
    const value = header(input.headers, headerName);
    if (!value) throw missing(headerName);
    let timestamp: string | undefined;
    const signatures: string[] = [];
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      const key = part.slice(0, eq).trim();
      const val = part.slice(eq + 1).trim();
      if (key === 't') timestamp = val;
      else if (key === 'v1') signatures.push(val);
    }
    if (!timestamp || !/^\d{1,12}$/.test(timestamp) || signatures.length === 0) {
      throw invalid(`${headerName} must look like t=<unix seconds>,v1=<hex>`);
    }
    checkTimestamp(Number(timestamp), input);
    for (const secret of input.secrets) {
      const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(input.rawBody).digest();
      if (signatures.some((s) => hexDigestMatches(expected, s))) return { timestampSeconds: Number(timestamp) };
    }
    throw invalid();
  };
}

/** The original toolkit's scheme: `X-Signature: sha256=<hex HMAC(secret, raw body)>` (or `sha1=`). */
export function verifyCustomHmac(input: VerifyInput): Verified {
  const value = header(input.headers, 'x-signature');
  if (!value) throw missing('X-Signature');
  const eq = value.indexOf('=');
  const algorithm = value.slice(0, eq).trim().toLowerCase();
  if (eq < 0 || (algorithm !== 'sha256' && algorithm !== 'sha1')) {
    throw invalid('X-Signature must look like sha256=<hex> or sha1=<hex>');
  }
  const digest = value.slice(eq + 1).trim();
  for (const secret of input.secrets) {
    if (hexDigestMatches(createHmac(algorithm, secret).update(input.rawBody).digest(), digest)) return {};
  }
  throw invalid();
}

/** Standard Webhooks keys: the bytes behind `whsec_<base64>`, decoded once per secret list. */
const standardKeys = new WeakMap<readonly string[], Buffer[]>();

/**
 * Standard Webhooks (https://www.standardwebhooks.com): `v1,<base64 HMAC-SHA256>` entries in
 * `webhook-signature`, over `<webhook-id>.<webhook-timestamp>.<raw body bytes>`. Computed here over the bytes
 * as received: the `standardwebhooks` library decodes the body to text first, so bodies that differ only in
 * invalid UTF-8 would share a signature. (Tests sign with that library and with svix.)
 */
export function verifyStandardWebhook(input: VerifyInput): Verified {
  const id = header(input.headers, 'webhook-id');
  const timestamp = header(input.headers, 'webhook-timestamp');
  const signature = header(input.headers, 'webhook-signature');
  if (!id) throw missing('webhook-id');
  if (!timestamp) throw missing('webhook-timestamp');
  if (!signature) throw missing('webhook-signature');
  if (!/^\d{1,12}$/.test(timestamp)) throw invalid('webhook-timestamp must be unix seconds');
  if (Math.abs(input.nowSeconds - Number(timestamp)) > input.toleranceSeconds) {
    throw unauthorized('stale_timestamp', `webhook-timestamp ${timestamp} is outside the ${input.toleranceSeconds} s tolerance`);
  }
  let keys = standardKeys.get(input.secrets);
  if (!keys) {
    keys = input.secrets.map((s) => Buffer.from(s.slice('whsec_'.length), 'base64'));
    standardKeys.set(input.secrets, keys);
  }
  const candidates = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(input.rawBody).digest();
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected))) {
      return { timestampSeconds: Number(timestamp), deliveryId: id };
    }
  }
  throw invalid();
}
