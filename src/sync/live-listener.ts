import type { DocumentChange, QuerySnapshot } from '@google-cloud/firestore';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { IngestEvent } from '../ingest/ingest-event.js';
import type { SyncMetrics } from '../metrics/sync.metrics.js';
import type { CollectionReader } from './collection-reader.js';
import { deletionEvent, documentEvent } from './document-events.js';
import { type FirestoreSource, resolveFirestore } from './firestore-client.js';
import { mapDocument } from './document-mapper.js';
import { cappedExponentialDelay } from '../queue/queues.js';
import { errorReason } from './retry.js';
import { LISTENER_LOCK_NAMESPACE, releaseRunLock, tryRunLock } from './sync-status.repository.js';

export interface LiveListenerOptions {
  pool: Pool;
  firestore: FirestoreSource;
  readers: readonly CollectionReader[];
  /** Hands changes to the persist queue (the webhooks' durable path). */
  enqueue: (events: IngestEvent[]) => Promise<void>;
  /** A listener broke or its changes could not be queued: the owner schedules a catch-up incremental run. */
  onGap: (collection: string) => void;
  /** Whether the listener is healthy (availability in /health). */
  onState: (collection: string, up: boolean, error?: unknown) => void;
  metrics?: SyncMetrics;
  logger: Logger;
  /** A new listener starts this far back, so nothing written while it (re)connected is missed. */
  overlapMs?: number;
  /** Listeners are renewed after this long or this many changes: the client keeps a listener's whole result set. */
  maxAgeMs?: number;
  maxChanges?: number;
  /** How often a process that is not the leader asks again. */
  leadershipRetryMs?: number;
}

interface Listener {
  unsubscribe: () => void;
  startedAt: number;
  changes: number;
  /** Snapshots are handled one after the other, in arrival order. */
  chain: Promise<void>;
  up: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
}

/**
 * Live mode: a snapshot listener per collection turns every change into an event on the persist queue within
 * moments (one process holds them: a PostgreSQL advisory lock elects the leader, and a crashed leader's lock
 * goes with its connection). A listener covers the documents whose cursor is newer than its start, minus an
 * overlap; removed documents are deleted. It is renewed from time to time so its result set stays small, and
 * after an error it reconnects with backoff while an incremental run fills the gap.
 */
export class LiveListeners {
  private readonly listeners = new Map<string, Listener>();
  private leaderClient: PoolClient | undefined;
  private leadershipTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly overlapMs: number;
  private readonly maxAgeMs: number;
  private readonly maxChanges: number;
  private readonly leadershipRetryMs: number;

  constructor(private readonly options: LiveListenerOptions) {
    this.overlapMs = options.overlapMs ?? 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 15 * 60_000;
    this.maxChanges = options.maxChanges ?? 20_000;
    this.leadershipRetryMs = options.leadershipRetryMs ?? 5_000;
  }

  get isLeader(): boolean {
    return this.leaderClient !== undefined;
  }

  /** undefined when this process does not hold the collection's listener. */
  isUp(collection: string): boolean | undefined {
    return this.leaderClient ? (this.listeners.get(collection)?.up ?? false) : undefined;
  }

  start(): void {
    void this.seekLeadership();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.leadershipTimer);
    this.stopListeners();
    await this.resign();
  }

  private async seekLeadership(): Promise<void> {
    if (this.stopped || this.leaderClient) return;
    let client: PoolClient | undefined;
    try {
      client = await this.options.pool.connect();
      if (await tryRunLock(client, 'firestore', 'live-listeners', LISTENER_LOCK_NAMESPACE)) {
        if (this.stopped) {
          await releaseRunLock(client, 'firestore', 'live-listeners', LISTENER_LOCK_NAMESPACE).catch(() => undefined);
          client.release(true);
          return;
        }
        this.leaderClient = client;
        // Losing the connection loses the lock: stop listening at once, another process takes over.
        client.on('error', (err) => this.lostLeadership(err));
        this.options.logger.info({ collections: this.options.readers.map((r) => r.mapping.collection) }, 'live sync: this process holds the snapshot listeners');
        for (const reader of this.options.readers) this.listen(reader);
        // The lock's connection is checked from time to time: a dead one means another leader may exist.
        this.leadershipTimer = setInterval(() => {
          client!.query('SELECT 1').catch((err: Error) => this.lostLeadership(err));
        }, this.leadershipRetryMs);
        return;
      }
      client.release();
    } catch (err) {
      client?.release(true);
      this.options.logger.warn({ err: (err as Error).message }, 'live sync: cannot ask for leadership');
    }
    if (!this.stopped) this.leadershipTimer = setTimeout(() => void this.seekLeadership(), this.leadershipRetryMs);
  }

  private lostLeadership(err: Error): void {
    if (!this.leaderClient) return;
    this.options.logger.warn({ err: err.message }, 'live sync: lost the leader lock; listeners stop');
    clearInterval(this.leadershipTimer);
    this.stopListeners();
    this.leaderClient.release(true);
    this.leaderClient = undefined;
    for (const reader of this.options.readers) this.options.onGap(reader.mapping.collection);
    if (!this.stopped) this.leadershipTimer = setTimeout(() => void this.seekLeadership(), this.leadershipRetryMs);
  }

  private async resign(): Promise<void> {
    const client = this.leaderClient;
    this.leaderClient = undefined;
    clearInterval(this.leadershipTimer);
    if (!client) return;
    await releaseRunLock(client, 'firestore', 'live-listeners', LISTENER_LOCK_NAMESPACE).catch(() => undefined);
    client.release();
  }

  private stopListeners(): void {
    for (const [collection, listener] of this.listeners) {
      clearTimeout(listener.timer);
      listener.unsubscribe();
      this.options.onState(collection, false);
    }
    this.listeners.clear();
  }

  private listen(reader: CollectionReader, failures = 0): void {
    const collection = reader.mapping.collection;
    if (this.stopped || !this.leaderClient) return;
    const { field } = reader.mapping.cursor;
    const since = reader.codec.fromDate(new Date(Date.now() - this.overlapMs));
    const listener: Listener = { unsubscribe: () => undefined, startedAt: Date.now(), changes: 0, chain: Promise.resolve(), up: false, failures };
    this.listeners.set(collection, listener);
    resolveFirestore(this.options.firestore).then(
      (firestore) => {
        if (this.listeners.get(collection) !== listener) return;
        listener.unsubscribe = firestore
          .collection(collection)
          .where(field, '>', reader.codec.toQuery(since))
          .orderBy(field)
          .onSnapshot(
            (snapshot) => {
              listener.chain = listener.chain
                .then(() => this.handle(reader, listener, snapshot))
                .catch((err: unknown) => {
                  this.options.logger.error({ collection, err }, 'live sync could not handle a snapshot; the incremental sync will catch up');
                  this.options.onGap(collection);
                });
            },
            (err) => this.failed(reader, listener, err),
          );
        // Renewal keeps the listener's result set bounded; the new one overlaps the old.
        listener.timer = setTimeout(() => this.renew(reader, listener), this.maxAgeMs);
      },
      (err: Error) => this.failed(reader, listener, err),
    );
  }

  private renew(reader: CollectionReader, listener: Listener): void {
    if (this.listeners.get(reader.mapping.collection) !== listener) return;
    clearTimeout(listener.timer);
    listener.unsubscribe();
    this.listen(reader);
  }

  private failed(reader: CollectionReader, listener: Listener, err: Error): void {
    const collection = reader.mapping.collection;
    if (this.listeners.get(collection) !== listener) return;
    clearTimeout(listener.timer);
    listener.up = false;
    const reason = errorReason(err);
    this.options.metrics?.errors.inc({ collection, reason });
    this.options.onState(collection, false, err);
    const delayMs = cappedExponentialDelay(listener.failures + 1, 1000, 60_000);
    this.options.logger.warn({ collection, err: err.message, reason, retryInMs: delayMs }, 'live sync listener failed; reconnecting');
    this.options.onGap(collection);
    listener.timer = setTimeout(() => this.listen(reader, listener.failures + 1), delayMs);
  }

  private async handle(reader: CollectionReader, listener: Listener, snapshot: QuerySnapshot): Promise<void> {
    const collection = reader.mapping.collection;
    if (this.listeners.get(collection) !== listener) return;
    if (!listener.up) {
      listener.up = true;
      listener.failures = 0;
      this.options.onState(collection, true);
    }
    const changes = snapshot.docChanges();
    if (changes.length === 0) return;
    const receivedAt = new Date().toISOString();
    const events: IngestEvent[] = [];
    for (const change of changes) {
      this.options.metrics?.liveChanges.inc({ collection, change: change.type });
      const event = change.type === 'removed' ? await this.removal(reader, change, receivedAt) : this.upsert(reader, change, receivedAt);
      if (event) events.push(event);
    }
    listener.changes += changes.length;
    try {
      if (events.length > 0) await this.options.enqueue(events);
    } catch (err) {
      // The queue is away: the incremental run picks these documents up from its cursor.
      this.options.metrics?.errors.inc({ collection, reason: 'queue' });
      this.options.logger.warn({ collection, events: events.length, err: (err as Error).message }, 'live sync cannot queue changes; the incremental sync will catch up');
      this.options.onGap(collection);
    }
    if (listener.changes >= this.maxChanges) this.renew(reader, listener);
  }

  private upsert(reader: CollectionReader, change: DocumentChange, receivedAt: string): IngestEvent | undefined {
    const doc = reader.toDocument(change.doc);
    return doc && documentEvent(reader.mapping, reader.codec, doc, receivedAt);
  }

  /**
   * A document left the query: deleted, or its cursor field went backwards. Only a document that is really
   * gone deletes its trace; one that still exists is written as it now is.
   */
  private async removal(reader: CollectionReader, change: DocumentChange, receivedAt: string): Promise<IngestEvent | undefined> {
    try {
      const current = await change.doc.ref.get();
      if (current.exists) {
        const doc = reader.toDocument(current as Parameters<CollectionReader['toDocument']>[0]);
        return doc && documentEvent(reader.mapping, reader.codec, doc, receivedAt);
      }
    } catch (err) {
      this.options.logger.warn({ collection: reader.mapping.collection, document: change.doc.id, err: (err as Error).message }, 'live sync cannot check a removed document; the full sync will reconcile it');
      return undefined;
    }
    const mapped = mapDocument(reader.mapping, change.doc.id, change.doc.data());
    const externalId = mapped.ok ? mapped.trace.external_id : change.doc.id;
    return deletionEvent(reader.mapping, change.doc.id, externalId, new Date());
  }
}
