import { createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as Svix } from 'svix';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/http/errors.js';
import { verifyCustomHmac, verifyStandardWebhook, verifyTimestampedHmac, type VerifyInput } from '../../src/ingest/signatures.js';
import { customSignature, timestampedSignature } from '../support/signing.js';

const body = Buffer.from('{"event_type":"trace.created","data":{"id":"t-1"}}');
const now = 1_763_651_000;
const input = (headers: Record<string, string>, secrets: string[], rawBody = body): VerifyInput => ({
  headers,
  rawBody,
  secrets,
  nowSeconds: now,
  toleranceSeconds: 300,
});
const rejection = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(401);
    return (err as HttpError).code;
  }
  throw new Error('expected a 401');
};

describe('timestamped HMAC (Langfuse, LangWatch)', () => {
  const verify = verifyTimestampedHmac('x-langfuse-signature');
  const sign = (secret: string | string[], t = now) => ({ 'x-langfuse-signature': timestampedSignature(secret, body.toString(), t) });

  it('verifies a valid signature and returns its timestamp', () => {
    expect(verify(input(sign('lf-whsec_abc12345'), ['lf-whsec_abc12345']))).toEqual({ timestampSeconds: now });
  });
  it('accepts any configured secret and any v1 entry (rotation on either side)', () => {
    expect(() => verify(input(sign('new-secret-1'), ['old-secret-1', 'new-secret-1']))).not.toThrow();
    expect(() => verify(input(sign(['gone-secret-1', 'kept-secret-1']), ['kept-secret-1']))).not.toThrow();
  });
  it('rejects a wrong secret, a changed body, missing and malformed headers', () => {
    expect(rejection(() => verify(input(sign('wrong-secret'), ['lf-whsec_abc12345'])))).toBe('invalid_signature');
    expect(rejection(() => verify(input(sign('lf-whsec_abc12345'), ['lf-whsec_abc12345'], Buffer.from('{}'))))).toBe('invalid_signature');
    expect(rejection(() => verify(input({}, ['lf-whsec_abc12345'])))).toBe('missing_signature');
    expect(rejection(() => verify(input({ 'x-langfuse-signature': 'v1=abc' }, ['s-1234567'])))).toBe('invalid_signature');
    expect(rejection(() => verify(input({ 'x-langfuse-signature': `t=${now},v1=zz` }, ['s-1234567'])))).toBe('invalid_signature');
  });
  it('rejects timestamps more than the tolerance away, both ways', () => {
    expect(rejection(() => verify(input(sign('s-1234567', now - 301), ['s-1234567'])))).toBe('stale_timestamp');
    expect(rejection(() => verify(input(sign('s-1234567', now + 301), ['s-1234567'])))).toBe('stale_timestamp');
    expect(() => verify(input(sign('s-1234567', now - 299), ['s-1234567']))).not.toThrow();
  });
});

describe('custom HMAC', () => {
  it('verifies sha256 and sha1, with any configured secret', () => {
    expect(() => verifyCustomHmac(input({ 'x-signature': customSignature('secret-two', body.toString()) }, ['secret-one', 'secret-two']))).not.toThrow();
    expect(() => verifyCustomHmac(input({ 'x-signature': customSignature('secret-one', body.toString(), 'sha1') }, ['secret-one']))).not.toThrow();
  });
  it('rejects other algorithms, wrong digests and a missing header', () => {
    const md5 = `md5=${createHmac('md5', 'secret-one').update(body).digest('hex')}`;
    expect(rejection(() => verifyCustomHmac(input({ 'x-signature': md5 }, ['secret-one'])))).toBe('invalid_signature');
    expect(rejection(() => verifyCustomHmac(input({ 'x-signature': 'sha256=' + '0'.repeat(64) }, ['secret-one'])))).toBe('invalid_signature');
    expect(rejection(() => verifyCustomHmac(input({ 'x-signature': 'sha256=abc' }, ['secret-one'])))).toBe('invalid_signature');
    expect(rejection(() => verifyCustomHmac(input({}, ['secret-one'])))).toBe('missing_signature');
  });
});

describe('Standard Webhooks', () => {
  const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
  const signed = (signer: { sign(id: string, date: Date, payload: string): string }, t = Math.floor(Date.now() / 1000)) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(t),
    'webhook-signature': signer.sign('msg_1', new Date(t * 1000), body.toString()),
  });
  const live = (headers: Record<string, string>, secrets = [secret]) => ({ ...input(headers, secrets), nowSeconds: Math.floor(Date.now() / 1000) });

  it('verifies signatures made by two independent libraries (svix and standardwebhooks)', () => {
    expect(verifyStandardWebhook(live(signed(new Svix(secret))))).toMatchObject({ deliveryId: 'msg_1' });
    expect(() => verifyStandardWebhook(live(signed(new StandardWebhook(secret))))).not.toThrow();
  });
  it('accepts a signature list with one valid entry, and rotated secrets', () => {
    const headers = signed(new Svix(secret));
    headers['webhook-signature'] = `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}`;
    const other = 'whsec_' + Buffer.from('another-key-another-key-another-').toString('base64');
    expect(() => verifyStandardWebhook(live(headers, [other, secret]))).not.toThrow();
  });
  it('rejects wrong keys, stale timestamps and missing headers', () => {
    const other = 'whsec_' + Buffer.from('another-key-another-key-another-').toString('base64');
    expect(rejection(() => verifyStandardWebhook(live(signed(new Svix(secret)), [other])))).toBe('invalid_signature');
    expect(rejection(() => verifyStandardWebhook(live(signed(new Svix(secret), Math.floor(Date.now() / 1000) - 400))))).toBe('stale_timestamp');
    const { 'webhook-signature': _s, ...noSignature } = signed(new Svix(secret));
    expect(rejection(() => verifyStandardWebhook(live(noSignature)))).toBe('missing_signature');
  });
});
