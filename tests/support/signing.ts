import { createHmac } from 'node:crypto';

/**
 * Signs request bodies the way each sender does, written from the senders' documentation (see
 * shared/fixtures/webhooks/README.md) independently of src/. Standard Webhooks are signed with the `svix`
 * library in the tests themselves.
 */
const nowSeconds = () => Math.floor(Date.now() / 1000);

export function timestampedSignature(secret: string | string[], body: string, t = nowSeconds()): string {
  const secrets = Array.isArray(secret) ? secret : [secret];
  const v1 = secrets.map((s) => `v1=${createHmac('sha256', s).update(`${t}.${body}`).digest('hex')}`);
  return [`t=${t}`, ...v1].join(',');
}

export function customSignature(secret: string, body: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest('hex')}`;
}
