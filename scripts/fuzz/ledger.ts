import { randomBytes } from 'node:crypto';
import type { Wire } from '../../tests/fuzz/wire.js';
import type { Outcome } from './send.js';

// ---- the ledger: what was sent, how it was answered, what is wrong -----------------------------------------

export interface Violation {
  label: string;
  problems: string[];
}

export class Ledger {
  readonly run = randomBytes(3).toString('hex');
  private n = 0;
  requests = 0;
  readonly replies = new Map<string, number>();
  readonly labels = new Map<string, string>();
  readonly accepted = new Map<string, { label: string; body: string }>();
  /** Requests that got no reply: whether they were stored is unknowable (their no-reply is checked on its own). */
  readonly unanswered = new Set<string>();
  readonly violations: Violation[] = [];

  token = (): string => `fz-${this.run}-${++this.n}z`;
  get tokenPattern(): string {
    return `fz-${this.run}-[0-9]+z`;
  }

  record(wire: Wire, outcome: Outcome): void {
    this.requests++;
    this.labels.set(wire.token, wire.label);
    let code = '';
    try {
      code = (JSON.parse(outcome.text ?? '') as { error?: { code?: unknown } }).error?.code as string ?? '';
    } catch {
      // not JSON: counted by status alone
    }
    const key = outcome.refused ? 'not sent (fetch refused)' : outcome.status ? `${outcome.status} ${typeof code === 'string' ? code : ''}`.trim()
      : `no reply (${outcome.error?.slice(0, 60)})`;
    this.replies.set(key, (this.replies.get(key) ?? 0) + 1);
    if (!outcome.status && !outcome.refused) this.unanswered.add(wire.token);
    if (outcome.status && outcome.status < 300) {
      const body = wire.body && wire.body.length < 65_536 ? wire.body.toString('utf8') : '';
      this.accepted.set(wire.token, { label: wire.label, body });
    }
  }

  violation(label: string, ...problems: string[]): void {
    this.violations.push({ label, problems });
  }
}
