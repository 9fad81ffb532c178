import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { FirestoreServer } from '@firestore-emulator/server';
import { Firestore } from '@google-cloud/firestore';
import { freePort } from '../../src/dev/free-port.js';

/**
 * A Firestore emulator for tests: `@firestore-emulator/server`, in this process, on a free loopback port, spoken
 * to by the real `@google-cloud/firestore` client over gRPC. (The official emulator needs Java 21 and a download;
 * neither is available here.) It ignores `startAfter`/`offset`, which the sync does not use.
 */
export interface FirestoreEmulator {
  /** host:port, the value of FIRESTORE_EMULATOR_HOST. */
  host: string;
  projectId: string;
  /** Environment a service needs to reach this emulator. */
  env: Record<string, string>;
  /** A client of the emulator for the test's own writes; closed by stop(). */
  client(): Firestore;
  stop(): Promise<void>;
}

export async function startFirestoreEmulator(projectId = 'vertigo-test'): Promise<FirestoreEmulator> {
  // The test's own clients need no credentials: keep Google's auth library from probing a metadata server.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const emulator = new FirestoreServer();
  // The package binds 0.0.0.0; bind its gRPC server to loopback instead.
  const server = (emulator as unknown as { server: Server }).server;
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  const host = `127.0.0.1:${port}`;
  const clients: Firestore[] = [];
  return {
    host,
    projectId,
    env: { FIRESTORE_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: projectId, METADATA_SERVER_DETECTION: 'none' },
    client() {
      const client = new Firestore({ projectId, host: '127.0.0.1', port, ssl: false, customHeaders: { Authorization: 'Bearer owner' } });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.terminate().catch(() => undefined)));
      server.forceShutdown();
    },
  };
}
