import fc from 'fast-check';
import type { FuzzProperty } from '../../tests/fuzz/arbitraries.js';
import { CORPUS } from '../../tests/fuzz/corpus.js';
import { materialize, type Spec, type Wire } from '../../tests/fuzz/wire.js';
import { checkReply } from './checks.js';
import type { Ledger } from './ledger.js';
import { repro, send } from './send.js';

export interface Target {
  baseUrl: string;
  ledger: Ledger;
  timeoutMs: number;
  alive: () => boolean;
}

/** Sends one spec (`times` times) and checks each reply; returns the problems found. */
export async function fire(target: Target, spec: Spec): Promise<{ problems: string[]; wire: Wire }> {
  const wire = materialize(spec, { token: target.ledger.token(), nowSeconds: Math.floor(Date.now() / 1000) });
  const problems: string[] = [];
  for (let i = 0; i < (spec.times ?? 1); i++) {
    const outcome = await send(target.baseUrl, wire, target.timeoutMs);
    target.ledger.record(wire, outcome);
    const found = checkReply(spec, wire, outcome);
    if (found.length > 0) problems.push(...found, `      ${repro(wire, target.baseUrl)}`);
  }
  if (!target.alive()) problems.push('the service is not running any more');
  return { problems, wire };
}

/** Sends every spec of the corpus, `concurrency` at a time. */
export async function runCorpus(target: Target, concurrency: number, specs: readonly Spec[] = CORPUS): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < specs.length && target.alive()) {
      const spec = specs[next++]!;
      const { problems, wire } = await fire(target, spec);
      if (problems.length > 0) target.ledger.violation(`corpus: ${spec.label}`, ...problems, `repro: ${repro(wire, target.baseUrl)}`);
    }
  }));
}

/**
 * Runs a property `runs` times as `concurrency` fast-check runners side by side (seeds seed, seed+1, ...). A
 * failure is shrunk by fast-check; its report (counterexample, seed, path) is returned and recorded.
 */
export async function runProperty(target: Target, property: FuzzProperty, runs: number, seed: number, concurrency = 1): Promise<string | undefined> {
  const perRunner = Math.max(1, Math.ceil(runs / concurrency));
  const settled = await Promise.allSettled(Array.from({ length: concurrency }, (_, i) =>
    fc.assert(fc.asyncProperty(property.arbitrary, async (spec) => {
      const { problems, wire } = await fire(target, spec);
      if (problems.length > 0) throw new Error(`${problems.join('; ')}\n    repro: ${repro(wire, target.baseUrl)}`);
    }), { seed: seed + i, numRuns: perRunner })));
  const failures = settled.flatMap((r) => {
    if (r.status === 'fulfilled') return [];
    const err = r.reason as Error & { cause?: unknown };
    return [`${err.message}${err.cause instanceof Error ? `\nGot error: ${err.cause.message}` : ''}`];
  });
  if (failures.length === 0) return undefined;
  target.ledger.violation(`property: ${property.name}`, ...failures);
  return failures.join('\n\n');
}
