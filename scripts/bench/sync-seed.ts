import { type Firestore, Timestamp } from '@google-cloud/firestore';
import { seededRandom } from '../seeded-random.js';
import { say } from './output.js';
import { thousands } from './stats.js';

/**
 * The documents the sync benchmark reads: `traces` documents with every field of the shipped `traces` mapping
 * (src/sync/default-mappings.ts), ids in an order unrelated to their updatedAt. updatedAt values are distinct,
 * spread over the last `spreadHours`, except for a group (`tiesFraction` of the documents) sharing one
 * timestamp with sub-millisecond digits, which the sync must read whole across page boundaries.
 * Seeding slows as the collection grows: the emulator copies its map of a collection's documents (immer
 * `produce`) for every new document, so each write costs O(documents already there) and a batch of 500 at
 * 30,000 documents outlasts the client's 60 s deadline. Batches are therefore small and one at a time.
 */

export interface SeedPlan {
  docs: number;
  ties: number;
  /** The shared timestamp of the tie group. */
  tieAt: Timestamp;
  oldest: Date;
  newest: Date;
}

export interface SeedResult extends SeedPlan {
  /** Documents the emulator reports afterwards (count()). */
  counted: number;
  batches: number;
}


const MODELS = [
  ['gpt-4o-mini', 'openai'],
  ['gpt-4o', 'openai'],
  ['claude-3-5-sonnet', 'anthropic'],
  ['gemini-1.5-flash', 'google'],
] as const;
const NAMES = ['chat', 'summarize', 'classify', 'extract', 'embed-query'];

export const docId = (i: number) => `d${String(i).padStart(7, '0')}`;

/** The updatedAt of each document (by index), shuffled, and the plan they follow. */
export function planSeed(docs: number, tiesFraction: number, spreadHours: number, now = Date.now()): { plan: SeedPlan; times: Timestamp[] } {
  const ties = Math.max(2, Math.round(docs * tiesFraction));
  const distinct = docs - ties;
  const spanMs = spreadHours * 3600_000;
  const start = now - spanMs;
  const stepMs = spanMs / distinct;
  const times: Timestamp[] = [];
  for (let k = 0; k < distinct; k++) times.push(Timestamp.fromMillis(Math.floor(start + k * stepMs)));
  // Microseconds that no millisecond grid value has: the tie group is its own cursor value.
  const middle = Math.floor(start + spanMs / 2);
  const tieAt = new Timestamp(Math.floor(middle / 1000), (middle % 1000) * 1e6 + 123_456);
  for (let k = 0; k < ties; k++) times.push(tieAt);
  const random = seededRandom(20261120);
  for (let i = times.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [times[i], times[j]] = [times[j]!, times[i]!];
  }
  return { plan: { docs, ties, tieAt, oldest: new Date(start), newest: new Date(Math.floor(start + (distinct - 1) * stepMs)) }, times };
}

/** One `traces` document as an LLM application would write it (about 600 bytes of fields). */
export function traceDocument(i: number, updatedAt: Timestamp, idPrefix = 'bench'): Record<string, unknown> {
  const [model, provider] = MODELS[i % MODELS.length]!;
  const latencyMs = 200 + ((i * 7919) % 4800);
  const endedAt = updatedAt.toMillis() - 5;
  const inputTokens = 50 + ((i * 31) % 2000);
  const outputTokens = 10 + ((i * 17) % 800);
  return {
    traceId: `${idPrefix}-${i}`,
    name: NAMES[i % NAMES.length],
    model,
    provider,
    status: i % 50 === 0 ? 'error' : 'success',
    latencyMs,
    usage: { inputTokens, outputTokens },
    costUsd: Math.round((inputTokens * 0.15 + outputTokens * 0.6)) / 1e6,
    userId: `user-${i % 997}`,
    sessionId: `session-${i % 4099}`,
    startedAt: Timestamp.fromMillis(endedAt - latencyMs),
    endedAt: Timestamp.fromMillis(endedAt),
    environment: 'production',
    tags: ['bench', i % 2 === 0 ? 'even' : 'odd'],
    release: '2026.11.1',
    updatedAt,
  };
}

/** Writes the planned documents in batched writes of `perBatch`, `inFlight` at a time; returns the batches. */
export async function seedCollection(
  firestore: Firestore,
  collection: string,
  times: Timestamp[],
  perBatch = 100,
  inFlight = 1,
): Promise<number> {
  const ref = firestore.collection(collection);
  let next = 0;
  let batches = 0;
  let written = 0;
  let lastReport = performance.now();
  const started = performance.now();
  const writer = async () => {
    for (;;) {
      const from = next;
      if (from >= times.length) return;
      const to = Math.min(times.length, from + perBatch);
      next = to;
      const batch = firestore.batch();
      for (let i = from; i < to; i++) batch.set(ref.doc(docId(i)), traceDocument(i, times[i]!));
      await batch.commit();
      batches++;
      written += to - from;
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        const rate = written / ((lastReport - started) / 1000);
        say(`  seeding: ${thousands(written)} of ${thousands(times.length)} (${thousands(rate)} docs/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
  return batches;
}

export const countDocuments = async (firestore: Firestore, collection: string): Promise<number> =>
  (await firestore.collection(collection).count().get()).data().count;
