import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { SourceName } from '../../config/config.js';
import type { IngestEvent } from '../ingest-event.js';
import type { Verified, VerifyInput } from '../signatures.js';

/** What a webhook sender is to the ingest route: how its signature is checked and its body read. */
export interface WebhookSource {
  name: SourceName;
  verify(input: VerifyInput): Verified;
  /** Validates a parsed body into events, or throws a 400 HttpError naming the offending field. */
  parse(body: unknown, context: ParseContext): IngestEvent[];
}

export interface ParseContext {
  headers: IncomingHttpHeaders;
  receivedAt: string;
  verified: Verified;
  maxEvents: number;
}

/** A stable id for an event its sender did not name: the hash of its content. */
export const contentId = (value: unknown): string =>
  `sha256:${createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32)}`;

export const secondsToIso = (seconds: number): string => new Date(seconds * 1000).toISOString();
