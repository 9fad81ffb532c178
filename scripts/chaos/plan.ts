import { createHmac } from 'node:crypto';
import { seededRandom } from '../seeded-random.js';

/**
 * What the chaos load sends, and what the reconciliation expects from it. Every event belongs to a trace of a
 * scenario's id namespace and is one of that trace's 1–3 versions:
 *
 *   event id  evt-<ns>-<trace>-<version>      (webhook_events.delivery_id)
 *   trace id  trc-<ns>-<trace>                (live_traces.external_id)
 *   timestamp base + trace * 4 + version ms   (live_traces.updated_at: a later version is newer)
 *
 * Version 1 is a `trace.created`, later ones `trace.updated`; each carries all fields, with values derived from
 * its version, so the stored row says which version it is and whether it is exactly that version.
 */

export interface PlannedEvent {
  trace: number;
  version: number;
  /** How many versions this trace has in the plan. */
  of: number;
}

export const eventId = (ns: string, trace: number, version: number): string => `evt-${ns}-${trace.toString(36)}-${version}`;
export const traceId = (ns: string, trace: number): string => `trc-${ns}-${trace.toString(36)}`;
export const versionTime = (baseMs: number, trace: number, version: number): number => baseMs + trace * 4 + version;

/** `evt-<ns>-<trace>-<version>` back to its numbers (undefined when it is not of namespace `ns`). */
export function parseEventId(ns: string, id: string): { trace: number; version: number } | undefined {
  const prefix = `evt-${ns}-`;
  if (!id.startsWith(prefix)) return undefined;
  const [trace, version] = id.slice(prefix.length).split('-');
  if (trace === undefined || version === undefined) return undefined;
  return { trace: parseInt(trace, 36), version: Number(version) };
}

export function parseTraceId(ns: string, id: string): number | undefined {
  const prefix = `trc-${ns}-`;
  return id.startsWith(prefix) ? parseInt(id.slice(prefix.length), 36) : undefined;
}

/** The fields version `version` of trace `trace` stores (what the reconciliation compares a row with). */
export function versionFields(trace: number, version: number, of: number) {
  return {
    status: version === of ? 'success' : 'running',
    latency_ms: 100 * version,
    input_tokens: version,
    output_tokens: trace % 1000,
  };
}

export function eventBody(ns: string, baseMs: number, e: PlannedEvent): Record<string, unknown> {
  return {
    event_type: e.version === 1 ? 'trace.created' : 'trace.updated',
    event_id: eventId(ns, e.trace, e.version),
    timestamp: new Date(versionTime(baseMs, e.trace, e.version)).toISOString(),
    data: {
      id: traceId(ns, e.trace),
      name: 'chaos',
      model: 'chaos-model',
      provider: 'chaos',
      ...versionFields(e.trace, e.version, e.of),
      cost_usd: 0.001 * e.version,
      metadata: { v: e.version, of: e.of, ns },
    },
  };
}

/** One signed `custom` delivery: a single event, or `{"events": [...]}` for several. */
export interface Delivery {
  ids: string[];
  body: string;
  signature: string;
}

export function signedDelivery(secret: string, ns: string, baseMs: number, events: PlannedEvent[]): Delivery {
  const bodies = events.map((e) => eventBody(ns, baseMs, e));
  const body = JSON.stringify(bodies.length === 1 ? bodies[0] : { events: bodies });
  return {
    ids: events.map((e) => eventId(ns, e.trace, e.version)),
    body,
    signature: `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}


/**
 * Hands out events for deliveries: new traces with 1–3 versions, and later versions of traces already begun.
 * A trace's versions go out in different deliveries that may be in flight at once on different connections,
 * and one time in five a later version goes out before an earlier one, so arrival order is not version order.
 */
export class EventPlanner {
  private nextTrace = 0;
  private readonly open: { trace: number; of: number; remaining: number[] }[] = [];
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  get traces(): number {
    return this.nextTrace;
  }

  take(count: number): PlannedEvent[] {
    const events: PlannedEvent[] = [];
    for (let i = 0; i < count; i++) {
      if (this.open.length > 0 && (this.random() < 0.45 || this.open.length > 200)) {
        const index = Math.floor(this.random() * this.open.length);
        const t = this.open[index]!;
        const pick = this.random() < 0.8 ? 0 : Math.floor(this.random() * t.remaining.length);
        const version = t.remaining.splice(pick, 1)[0]!;
        if (t.remaining.length === 0) this.open.splice(index, 1);
        events.push({ trace: t.trace, version, of: t.of });
      } else {
        const trace = this.nextTrace++;
        const of = 1 + Math.floor(this.random() * 3);
        if (of > 1) this.open.push({ trace, of, remaining: Array.from({ length: of - 1 }, (_, k) => k + 2) });
        events.push({ trace, version: 1, of });
      }
    }
    return events;
  }

  /** A random whole number in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }
}
