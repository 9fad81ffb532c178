import { readFileSync } from 'node:fs';
import { Webhook } from 'svix';
import { customSignature, timestampedSignature } from './signing.js';
import { SECRETS } from './test-runtime.js';

export type Source = 'langfuse' | 'langwatch' | 'custom' | 'standard';

export const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8');

let standardCounter = 0;

/** Headers a real sender would put on `body` for `source`, signed with the test secrets. */
export function signedHeaders(source: Source, body: string, overrides: { t?: number; id?: string } = {}): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  switch (source) {
    case 'langfuse':
      headers['x-langfuse-signature'] = timestampedSignature(SECRETS.langfuse, body, overrides.t);
      headers['user-agent'] = 'Langfuse/1.0';
      break;
    case 'langwatch':
      headers['x-langwatch-signature'] = timestampedSignature(SECRETS.langwatch, body, overrides.t);
      headers['x-langwatch-delivery-id'] = overrides.id ?? `dlv_${Date.now()}_${standardCounter++}`;
      break;
    case 'custom':
      headers['x-signature'] = customSignature(SECRETS.custom, body);
      break;
    case 'standard': {
      const id = overrides.id ?? `msg_${Date.now()}_${standardCounter++}`;
      const timestamp = new Date((overrides.t ?? Math.floor(Date.now() / 1000)) * 1000);
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(Math.floor(timestamp.getTime() / 1000));
      headers['webhook-signature'] = new Webhook(SECRETS.standard).sign(id, timestamp, body);
      break;
    }
  }
  return headers;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function post(baseUrl: string, source: string, body: string, headers: Record<string, string>, timeoutMs?: number): Promise<Reply> {
  const res = await fetch(`${baseUrl}/live-data/webhooks/${source}`, {
    method: 'POST',
    body,
    headers,
    ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the test will say so
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const sendSigned = (baseUrl: string, source: Source, body: string) => post(baseUrl, source, body, signedHeaders(source, body));

/** A custom `trace.created` event body. */
export function customTrace(id: string, fields: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_type: 'trace.created',
    event_id: `evt-${id}`,
    timestamp: new Date().toISOString(),
    data: { id, model: 'gpt-4o-mini', status: 'success', latency_ms: 120, input_tokens: 10, output_tokens: 5, cost_usd: 0.001, ...fields },
    ...extra,
  });
}
