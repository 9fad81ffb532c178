import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parseEventId, parseTraceId, versionFields, versionTime } from './plan.js';

/**
 * The reconciliation: the client's record of what was acknowledged (the load generator's file, one line per
 * attempt) against what PostgreSQL holds (exported with COPY ... TO STDOUT). The rules:
 *
 * - An event is acknowledged when any attempt carrying it was answered 2xx. Every acknowledged event must
 *   have its one `webhook_events` row, with a status that says it was applied (not `failed`, not `received`),
 *   and its trace must have its row in `live_traces`; otherwise it is missing.
 * - An event not acknowledged (5xx or no answer on every attempt) need not be stored; if it is, once.
 * - No event id and no trace id may have two rows (duplicated), and no row of the namespace may carry an
 *   id that was never sent (unexpected).
 * - A trace's row must be a version at least as new as its newest acknowledged version, a version that was
 *   sent, and exactly that version: its updated_at, last_event_id and fields (stale otherwise).
 */

export interface Attempt {
  status: number;
  startMs: number;
  endMs: number;
  error: string;
  kind: string;
  events: number;
}

interface EventRecord {
  acked: boolean;
  noAnswer: number;
  sends: number;
}

export interface ClientRecord {
  attempts: Attempt[];
  events: Map<string, EventRecord>;
}

export async function readClientRecord(file: string): Promise<ClientRecord> {
  const attempts: Attempt[] = [];
  const events = new Map<string, EventRecord>();
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const [status, start, end, error, kind, ids] = line.split('\t');
    const code = Number(status);
    const idList = (ids ?? '').split(',');
    attempts.push({ status: code, startMs: Number(start), endMs: Number(end), error: error ?? '', kind: kind ?? '', events: idList.length });
    for (const id of idList) {
      let e = events.get(id);
      if (!e) events.set(id, (e = { acked: false, noAnswer: 0, sends: 0 }));
      e.sends++;
      if (code >= 200 && code < 300) e.acked = true;
      else if (code === 0) e.noAnswer++;
    }
  }
  return { attempts, events };
}

interface StoredEvent {
  status: string;
  attempts: number;
}

interface StoredTrace {
  lastEventId: string;
  updatedMs: number;
  status: string;
  latencyMs: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  metaV: number | null;
  metaOf: number | null;
}

export interface StoredRows {
  events: Map<string, StoredEvent[]>;
  traces: Map<string, StoredTrace[]>;
}

/** COPY (query) TO STDOUT, one array of columns per row (`\N` is null). */
async function copyRows(client: pg.Client, sql: string, row: (columns: (string | null)[]) => void): Promise<void> {
  const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT`));
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line) row(line.split('\t').map((c) => (c === '\\N' ? null : c)));
  }
}

const num = (v: string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

export async function readStoredRows(databaseUrl: string, ns: string): Promise<StoredRows> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const events = new Map<string, StoredEvent[]>();
    // The namespace holds letters, digits and dashes only: no LIKE wildcard in it.
    await copyRows(client, `SELECT delivery_id, status, attempts FROM webhook_events WHERE source = 'custom' AND delivery_id LIKE 'evt-${ns}-%'`, ([id, status, attempts]) => {
      const list = events.get(id!) ?? [];
      list.push({ status: status!, attempts: Number(attempts) });
      events.set(id!, list);
    });
    const traces = new Map<string, StoredTrace[]>();
    await copyRows(
      client,
      `SELECT external_id, last_event_id, round(extract(epoch FROM updated_at) * 1000)::bigint, status, latency_ms, input_tokens,
              output_tokens, metadata->>'v', metadata->>'of'
       FROM live_traces WHERE source = 'custom' AND external_id LIKE 'trc-${ns}-%'`,
      ([id, lastEventId, updatedMs, status, latency, input, output, v, of]) => {
        const list = traces.get(id!) ?? [];
        list.push({
          lastEventId: lastEventId!,
          updatedMs: Number(updatedMs),
          status: status!,
          latencyMs: num(latency),
          inputTokens: num(input),
          outputTokens: num(output),
          metaV: num(v),
          metaOf: num(of),
        });
        traces.set(id!, list);
      },
    );
    return { events, traces };
  } finally {
    await client.end();
  }
}

export interface Reconciliation {
  /** Events, counted once each whatever the number of attempts. */
  sent: number;
  acked: number;
  /** Not acknowledged; every attempt was answered, non-2xx. */
  rejected: number;
  /** Not acknowledged; at least one attempt got no answer. */
  errored: number;
  /** Sent events with a webhook_events row. */
  stored: number;
  /** Of those not acknowledged, how many are stored anyway (allowed). */
  storedUnacked: number;
  missing: number;
  /** Event ids and trace ids with more than one row. */
  duplicated: number;
  /** Traces whose row is older than their newest acknowledged version, or not exactly one version. */
  stale: number;
  /** Rows of the namespace for ids never sent. */
  unexpected: number;
  /** webhook_events rows with attempts > 1 (a redelivery or a retried job: stored once, counted again). */
  redelivered: number;
  /** A few ids per problem, for the report. */
  samples: string[];
}

export function reconcile(ns: string, baseMs: number, client: ClientRecord, stored: StoredRows): Reconciliation {
  const r: Reconciliation = {
    sent: client.events.size, acked: 0, rejected: 0, errored: 0, stored: 0, storedUnacked: 0,
    missing: 0, duplicated: 0, stale: 0, unexpected: 0, redelivered: 0, samples: [],
  };
  const sample = (what: string) => {
    if (r.samples.length < 12) r.samples.push(what);
  };
  // Per trace: versions sent, newest acknowledged version.
  const traces = new Map<number, { sent: Set<number>; ackedMax: number; ackedEvents: string[] }>();

  for (const [id, e] of client.events) {
    const parsed = parseEventId(ns, id);
    if (!parsed) throw new Error(`the client record holds an event id outside namespace ${ns}: ${id}`);
    let t = traces.get(parsed.trace);
    if (!t) traces.set(parsed.trace, (t = { sent: new Set(), ackedMax: 0, ackedEvents: [] }));
    t.sent.add(parsed.version);
    const rows = stored.events.get(id) ?? [];
    if (rows.length > 0) r.stored++;
    if (e.acked) {
      r.acked++;
      t.ackedMax = Math.max(t.ackedMax, parsed.version);
      t.ackedEvents.push(id);
      const applied = rows.some((row) => row.status === 'processed' || row.status === 'ignored' || row.status === 'duplicate');
      if (!applied) {
        r.missing++;
        sample(`missing event ${id} (${rows.length === 0 ? 'no webhook_events row' : `status ${rows.map((x) => x.status).join('/')}`})`);
      }
    } else {
      if (e.noAnswer > 0) r.errored++;
      else r.rejected++;
      if (rows.length > 0) r.storedUnacked++;
    }
  }
  for (const [id, rows] of stored.events) {
    if (rows.length > 1) {
      r.duplicated++;
      sample(`duplicated event ${id}: ${rows.length} rows`);
    }
    if (rows.some((row) => row.attempts > 1)) r.redelivered++;
    if (!client.events.has(id)) {
      r.unexpected++;
      sample(`unexpected event row ${id} (never sent)`);
    }
  }
  for (const [id, rows] of stored.traces) {
    const trace = parseTraceId(ns, id);
    if (trace === undefined || !traces.has(trace)) {
      r.unexpected++;
      sample(`unexpected trace row ${id} (never sent)`);
    }
    if (rows.length > 1) {
      r.duplicated++;
      sample(`duplicated trace ${id}: ${rows.length} rows`);
    }
  }

  for (const [trace, t] of traces) {
    if (t.ackedMax === 0) continue; // nothing acknowledged: whatever is stored (if anything) is allowed
    const id = `trc-${ns}-${trace.toString(36)}`;
    const row = stored.traces.get(id)?.[0];
    if (!row) {
      // Every acknowledged event of the trace lacks its effect; count those not already counted.
      for (const eventId of t.ackedEvents) {
        const rows = stored.events.get(eventId) ?? [];
        if (rows.some((x) => x.status === 'processed' || x.status === 'ignored' || x.status === 'duplicate')) r.missing++;
      }
      sample(`missing trace ${id} (newest acknowledged version ${t.ackedMax})`);
      continue;
    }
    const problem = traceProblem(baseMs, trace, row, parseEventId(ns, row.lastEventId), t.sent, t.ackedMax);
    if (problem) {
      r.stale++;
      sample(`stale trace ${id}: ${problem}`);
    }
  }
  return r;
}

function traceProblem(
  baseMs: number,
  trace: number,
  row: StoredTrace,
  last: { trace: number; version: number } | undefined,
  sent: Set<number>,
  ackedMax: number,
): string | undefined {
  if (!last || last.trace !== trace) return `last_event_id ${row.lastEventId} is not an event of this trace`;
  const v = last.version;
  if (v < ackedMax) return `stored version ${v} is older than the newest acknowledged version ${ackedMax}`;
  if (!sent.has(v)) return `stored version ${v} was never sent`;
  if (row.updatedMs !== versionTime(baseMs, trace, v)) return `updated_at is not version ${v}'s timestamp`;
  const of = row.metaOf ?? 0;
  const want = versionFields(trace, v, of);
  const got = { status: row.status, latency_ms: row.latencyMs, input_tokens: row.inputTokens, output_tokens: row.outputTokens };
  if (row.metaV !== v || JSON.stringify(got) !== JSON.stringify(want)) {
    return `fields ${JSON.stringify({ ...got, v: row.metaV })} are not version ${v}'s ${JSON.stringify({ ...want, v })}`;
  }
  return undefined;
}
