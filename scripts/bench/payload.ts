import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Single-event (and batched) `custom` webhook bodies of about 1 KB per event, each with its own event id and trace id, signed the way
 * the toolkit sender signs them: `X-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`. The body is a
 * template cut once into fixed parts, so making a request costs a few string joins and one HMAC.
 */

export const TARGET_BODY_BYTES = 1024;
export const EVENT_TYPE = 'trace.created';

const EVENT_ID = '@@EVENT_ID@@';
const TRACE_ID = '@@TRACE_ID@@';
const TIMESTAMP = '@@TIMESTAMP@@';
const PAD = '@@PAD@@';

function template(): string {
  return JSON.stringify({
    event_type: EVENT_TYPE,
    event_id: EVENT_ID,
    timestamp: TIMESTAMP,
    data: {
      id: TRACE_ID,
      name: 'chat.completion',
      model: 'gpt-4o-mini',
      provider: 'openai',
      status: 'success',
      latency_ms: 123,
      input_tokens: 100,
      output_tokens: 20,
      cost_usd: 0.0001,
      user_id: 'user-4242',
      session_id: 'session-0007',
      metadata: {
        app: 'vertigo-bench',
        environment: 'bench',
        region: 'eu-west-1',
        prompt_template: 'support-answer-v3',
        temperature: 0.2,
        tags: ['bench', 'load', 'synthetic'],
        request: { max_tokens: 256, top_p: 1, stream: false },
        notes: PAD,
      },
    },
  });
}

export interface SignedBody {
  /** The (first) event's id. */
  eventId: string;
  /** Every event id of the body (one for a single-event body). */
  eventIds: readonly string[];
  body: string;
  signature: string;
}

export interface BodyFactory {
  /** A new body with a fresh event id and trace id, and its signature. */
  next(): SignedBody;
  /** How many bodies were made so far. */
  readonly made: number;
}

/**
 * `idPrefix` must be unique per load-generator run (the ids are unique inside a run by a counter), so that ids
 * are unique across a whole benchmark that writes to one database.
 */
export function createBodyFactory(secret: string, idPrefix: string, targetBytes = TARGET_BODY_BYTES): BodyFactory {
  const event = createEventFactory(idPrefix, targetBytes);
  let made = 0;
  return {
    next() {
      made++;
      const { eventId, json } = event();
      return { eventId, eventIds: [eventId], body: json, signature: customSignature(secret, json) };
    },
    get made() {
      return made;
    },
  };
}

/**
 * Batched `custom` deliveries, `{"events":[...]}` with `eventsPerBody` events of the single-event shape (each
 * ~`targetBytes`, its own event and trace id), signed over the whole body. `made` counts bodies.
 */
export function createBatchBodyFactory(secret: string, idPrefix: string, eventsPerBody: number, targetBytes = TARGET_BODY_BYTES): BodyFactory {
  const event = createEventFactory(idPrefix, targetBytes);
  let made = 0;
  return {
    next() {
      made++;
      const eventIds: string[] = [];
      const parts: string[] = [];
      for (let i = 0; i < eventsPerBody; i++) {
        const { eventId, json } = event();
        eventIds.push(eventId);
        parts.push(json);
      }
      const body = `{"events":[${parts.join(',')}]}`;
      return { eventId: eventIds[0]!, eventIds, body, signature: customSignature(secret, body) };
    },
    get made() {
      return made;
    },
  };
}

/** One event's JSON text (an object, ~`targetBytes`) with a fresh event id and trace id at each call. */
function createEventFactory(idPrefix: string, targetBytes: number): () => { eventId: string; json: string } {
  const sampleId = `${idPrefix}-${(1_000_000).toString(36)}`;
  const sampleTime = new Date().toISOString();
  const unpadded = template()
    .replace(EVENT_ID, `evt-${sampleId}`)
    .replace(TRACE_ID, `trc-${sampleId}`)
    .replace(TIMESTAMP, sampleTime)
    .replace(PAD, '');
  const pad = 'x'.repeat(Math.max(0, targetBytes - Buffer.byteLength(unpadded)));
  const parts = template().replace(PAD, pad).split(/@@(EVENT_ID|TRACE_ID|TIMESTAMP)@@/);
  // parts: [text, 'EVENT_ID', text, 'TIMESTAMP', text, 'TRACE_ID', text]
  const order = parts.filter((_, i) => i % 2 === 1);
  if (order.join(',') !== 'EVENT_ID,TIMESTAMP,TRACE_ID') throw new Error(`unexpected body template order: ${order.join(',')}`);
  const [p0, , p1, , p2, , p3] = parts as [string, string, string, string, string, string, string];

  let made = 0;
  return () => {
    const id = `${idPrefix}-${(made++).toString(36)}`;
    const eventId = `evt-${id}`;
    return { eventId, json: `${p0}${eventId}${p1}${new Date().toISOString()}${p2}trc-${id}${p3}` };
  };
}

/** The Standard Webhooks headers of `body` for a `whsec_` secret (the `standard` source). */
export function standardHeaders(secret: string, msgId: string, body: string, at = new Date()): Record<string, string> {
  const signature = new Webhook(secret).sign(msgId, at, body);
  return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature };
}

export function customSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The trace id (`live_traces.external_id`) of the body whose event id is `eventId`. */
export const traceIdOf = (eventId: string): string => `trc-${eventId.slice('evt-'.length)}`;
