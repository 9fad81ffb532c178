/**
 * prom-client collects every metric of a scrape concurrently, so two gauges filled from one read would each
 * start their own. This shares the read that is in flight: one query to Redis or PostgreSQL per scrape.
 */
export function sharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= read().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
