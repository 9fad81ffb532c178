import { Firestore, type Settings } from '@google-cloud/firestore';
import { GoogleAuth } from 'google-auth-library';
import type { Config } from '../config/config.js';

/**
 * The Firestore client, configured the usual Google way: the project from GOOGLE_CLOUD_PROJECT (or the
 * credentials), credentials from GOOGLE_APPLICATION_CREDENTIALS or the metadata server (workload identity),
 * and FIRESTORE_EMULATOR_HOST honoured (then no credentials are needed).
 */
export function createFirestore(sync: Config['firestoreSync']): Firestore {
  return new Firestore(firestoreSettings(sync));
}

function firestoreSettings(sync: Config['firestoreSync']): Settings {
  const settings: Settings = { databaseId: sync.databaseId, ignoreUndefinedProperties: true };
  if (sync.projectId) settings.projectId = sync.projectId;
  if (sync.emulatorHost) {
    // An emulator needs no credentials: keep Google's auth library from probing a metadata server (and warning).
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    const [host, port] = splitHostPort(sync.emulatorHost);
    Object.assign(settings, { host, port, ssl: false, customHeaders: { Authorization: 'Bearer owner' } });
    settings.projectId ??= 'demo-vertigo';
  }
  return settings;
}

/** Something that yields the client: a ready one, or a connection that may not be able to make one yet. */
export type FirestoreSource = Firestore | (() => Promise<Firestore>);

export const resolveFirestore = (source: FirestoreSource): Promise<Firestore> =>
  typeof source === 'function' ? source() : Promise.resolve(source);

const DATASTORE_SCOPE = 'https://www.googleapis.com/auth/datastore';

/**
 * Makes the client only once credentials load. The client's gRPC layer, created without credentials, rejects
 * promises nobody awaits on every call (an unhandled rejection each), so credentials are checked first with
 * Google's own auth library, and again on every later call until they load.
 */
export class FirestoreConnection {
  private client: Firestore | undefined;
  private pending: Promise<Firestore> | undefined;

  constructor(private readonly sync: Config['firestoreSync']) {}

  readonly get = (): Promise<Firestore> => {
    if (this.client) return Promise.resolve(this.client);
    this.pending ??= this.connect().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  };

  async close(): Promise<void> {
    await this.pending?.catch(() => undefined);
    await this.client?.terminate().catch(() => undefined);
    this.client = undefined;
  }

  private async connect(): Promise<Firestore> {
    if (!this.sync.emulatorHost) {
      const auth = new GoogleAuth({ scopes: [DATASTORE_SCOPE], ...(this.sync.projectId ? { projectId: this.sync.projectId } : {}) });
      await auth.getClient();
    }
    this.client = createFirestore(this.sync);
    return this.client;
  }
}

function splitHostPort(value: string): [string, number] {
  const index = value.lastIndexOf(':');
  return [value.slice(0, index), Number(value.slice(index + 1))];
}
