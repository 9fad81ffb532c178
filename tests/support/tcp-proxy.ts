import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../src/dev/free-port.js';

/**
 * A TCP proxy on a loopback port in front of a real server (PostgreSQL, Redis), so a test can make that server
 * unreachable for the service without stopping the server other tests share. `pause()` closes the listener and
 * cuts every open connection (new ones are refused, as if the server were down); `resume()` listens again on
 * the same port.
 */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Whether the proxy is listening. */
  readonly listening: boolean;
  /** Connections accepted since the start (to check that a client really reconnected). */
  readonly connectionsAccepted: number;
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const host = '127.0.0.1';
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let accepted = 0;
  let closed = false;

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  const onConnection = (client: Socket) => {
    accepted++;
    track(client);
    const upstream = createConnection({ host: targetHost, port: targetPort });
    track(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
    // Either side failing or ending tears down the pair, like a real connection loss would.
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    client.on('close', destroyBoth);
    upstream.on('close', destroyBoth);
  };

  const listen = async () => {
    // The port may be briefly held while the old listener finishes closing: try a few times.
    for (let attempt = 0; ; attempt++) {
      const s = createServer(onConnection);
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, host, () => {
            s.off('error', reject);
            resolve();
          });
        });
        server = s;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const stopListening = async () => {
    const s = server;
    server = undefined;
    const closing = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closing;
  };

  await listen();

  return {
    host,
    port,
    get listening() {
      return server !== undefined;
    },
    get connectionsAccepted() {
      return accepted;
    },
    async pause() {
      await stopListening();
    },
    async resume() {
      if (closed) throw new Error('the proxy is closed');
      if (!server) await listen();
    },
    async close() {
      closed = true;
      await stopListening();
    },
  };
}

/** `url` with its host and port replaced by the proxy's (postgres://, redis://). */
export function throughProxy(url: string, proxy: Pick<TcpProxy, 'host' | 'port'>): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}
