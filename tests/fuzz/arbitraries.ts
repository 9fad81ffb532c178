import fc from 'fast-check';
import { FIELDS, type Field, type Kind, invalidValues, validBody, wrongFieldSpec } from './fields.js';
import { type Expect, raw, type SignSpec, SOURCES, type SourceName, type Spec, T } from './wire.js';

/**
 * fast-check generators of webhook requests (`Spec`s), one arbitrary per property. Each property says what
 * the service must answer; the invariants every reply must meet (no 5xx, the error shape, nothing stored
 * when rejected) are checked for all of them by the runner (scripts/fuzz.ts).
 */

const SIG_CODES = ['missing_signature', 'invalid_signature', 'stale_timestamp'];
const OK: Expect = { status: [202] };

// ---- values -----------------------------------------------------------------------------------------------

const NASTY_UNITS = ['\u0000', '\ud800', '\udfff', '\u202e', '\ufeff', '\u200d', '\uffff', '"', '\\', '/', '😀', '👩‍👩‍👧', 'é', '\n', '\t', '\u0085', '\u2028', 'ﷺ', '%00', '{', ']'];

/** Any text up to `max` UTF-16 code units: printable, any code point, or made of known troublemakers. */
export const text = (max: number, min = 0) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: max }),
    fc.string({ unit: 'binary', maxLength: max }),
    fc.string({ unit: fc.constantFrom(...NASTY_UNITS), maxLength: max }),
  ).map((s) => s.slice(0, max)).filter((s) => s.length >= min);

/** An id that carries the request's token (so stored rows can be traced) and stays within 256 code units. */
const idWith = (tag: string) => text(120).map((s) => `${T}-${tag}-${s}`);

const two = (n: number) => String(n).padStart(2, '0');
/** ISO 8601 with seconds and a zone, anywhere in the range the schema allows (1970-9999 in UTC, offsets ±14:00). */
export const isoTimestamp = fc.record({
  y: fc.oneof({ arbitrary: fc.integer({ min: 2000, max: 2100 }), weight: 4 }, fc.integer({ min: 1971, max: 9998 })),
  mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }), h: fc.integer({ min: 0, max: 23 }),
  mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }),
  frac: fc.option(fc.stringMatching(/^\.\d{1,12}$/), { nil: '' }),
  zone: fc.oneof(fc.constant('Z'), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 59 })).map(([sg, h, m]) => `${sg}${two(h)}:${two(m)}`), fc.constantFrom('+14:00', '-14:00')),
}).map((t) => `${String(t.y).padStart(4, '0')}-${two(t.mo)}-${two(t.d)}T${two(t.h)}:${two(t.mi)}:${two(t.s)}${t.frac}${t.zone}`);

const count = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.bigInt({ min: 0n, max: 10n ** 15n }).map(Number), fc.constantFrom(0, 1e15));
const amount = fc.oneof({ arbitrary: fc.double({ min: 0, max: 10_000, noNaN: true }), weight: 8 }, fc.double({ min: 0, max: 1e12, noNaN: true }), fc.constantFrom(0, 1e12, 5e-324));
/** Money: `numeric(20, 10)` holds less than 1e10, and the schema allows up to 1e9. */
const usd = fc.oneof({ arbitrary: fc.double({ min: 0, max: 100, noNaN: true }), weight: 8 }, fc.double({ min: 0, max: 1e9, noNaN: true }), fc.constantFrom(0, 1e9, 5e-324));
const STATUSES = ['success', 'succeeded', 'OK', 'completed', 'error', 'Failed', 'failure', 'timeout', 'running', 'pending', 'started', 'in_progress', 'cancelled', 'CANCELED'];
const json = fc.jsonValue({ maxDepth: 3 });
const metadata = fc.dictionary(text(40), json, { maxKeys: 6 });
const nullish = <V>(arb: fc.Arbitrary<V>) => fc.option(arb, { nil: null, freq: 4 });
const partial = <R extends Record<string, fc.Arbitrary<unknown>>>(r: R, required: (keyof R)[] = []) =>
  fc.record(r, { requiredKeys: required as never[] }) as fc.Arbitrary<Record<string, unknown>>;

// ---- valid bodies -----------------------------------------------------------------------------------------

const traceData = (i: number) => partial({
  id: idWith(`t${i}`), name: nullish(text(512)), model: nullish(text(256)), provider: nullish(text(256)),
  status: nullish(fc.constantFrom(...STATUSES)), latency_ms: nullish(amount), input_tokens: nullish(count), output_tokens: nullish(count),
  cost_usd: nullish(usd), user_id: nullish(text(256)), session_id: nullish(text(256)), started_at: nullish(isoTimestamp),
  ended_at: nullish(isoTimestamp), metadata: nullish(metadata),
}, ['id']);

const toolkitEvent = (i: number) => fc.constantFrom('trace.created', 'trace.updated', 'trace.deleted', 'evaluation.completed', 'alert.triggered', 'fuzz.other')
  .chain((type) => partial({
    event_type: fc.constant(type),
    event_id: idWith(`e${i}`),
    timestamp: isoTimestamp,
    fuzz: fc.constant(T),
    data: type.startsWith('trace.created') || type === 'trace.updated' ? traceData(i)
      : type === 'trace.deleted' || type === 'evaluation.completed' ? idWith(`t${i}`).map((id) => ({ id }))
      : metadata,
  }, type.startsWith('fuzz') ? ['event_type', 'fuzz'] : ['event_type', 'fuzz', 'data']));

const langfuseBody = fc.constantFrom('prompt-version', 'monitor-alert', 'fuzz-other').chain((type) => partial({
  id: idWith('lf'), timestamp: isoTimestamp, type: fc.constant(type), apiVersion: text(20), fuzz: fc.constant(T),
  ...(type === 'prompt-version'
    ? { action: fc.constantFrom('created', 'updated', 'deleted'), prompt: fc.record({ id: idWith('p'), name: text(512), version: fc.integer() }) }
    : type === 'monitor-alert' ? { payload: partial({ monitorId: idWith('m') }) } : {}),
}, ['id', 'timestamp', 'type', 'fuzz', ...(type === 'prompt-version' ? ['action', 'prompt'] : type === 'monitor-alert' ? ['payload'] : [])] as never[]));

const gatewayData = (i: number) => partial({
  request_id: idWith(`r${i}`), model: nullish(text(256)), provider: nullish(text(256)),
  status: nullish(fc.oneof(fc.integer(), text(40))), duration_ms: nullish(amount), latency_ms: nullish(amount),
  usage: nullish(partial({ input_tokens: nullish(count), output_tokens: nullish(count), prompt_tokens: nullish(count), completion_tokens: nullish(count) })),
  cost_usd: nullish(usd), user_id: nullish(text(256)), virtual_key_id: nullish(text(256)), error: json,
});

const langwatchItem = (i: number) => fc.constantFrom('gateway.request.completed', 'gateway.request.failed', 'gateway.request.started', 'gateway.budget.exceeded', 'fuzz.other')
  .chain((type) => partial({
    id: idWith(`w${i}`), type: fc.constant(type), created: fc.integer({ min: 1, max: 2 ** 31 - 1 }).chain((n) => fc.constantFrom(n, 1e11, 1_795_000_000)),
    schema_version: fc.oneof(text(20), fc.double({ noNaN: true, noDefaultInfinity: true })), fuzz: fc.constant(T),
    data: type.startsWith('gateway.request.') ? gatewayData(i) : metadata,
  }, ['id', 'type', 'created', 'fuzz']));

const upTo3 = <V>(make: (i: number) => fc.Arbitrary<V>) =>
  fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => make(i))));

export const validBodyOf = (source: SourceName): fc.Arbitrary<unknown> => {
  if (source === 'langfuse') return langfuseBody;
  if (source === 'langwatch') return upTo3(langwatchItem).map((batch) => ({ batch }));
  return fc.oneof(toolkitEvent(0), upTo3(toolkitEvent).map((events) => ({ events })));
};

const source = fc.constantFrom(...SOURCES);
const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/vnd.vertigo+json', 'Application/JSON'];

// ---- invalid values ---------------------------------------------------------------------------------------

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const notString = fc.oneof(fc.integer(), finite, fc.boolean(), fc.array(json, { maxLength: 3 }), fc.dictionary(text(8), json, { maxKeys: 3 }));
const notNumber = fc.oneof(text(12), fc.boolean(), fc.array(json, { maxLength: 3 }), fc.dictionary(text(8), json, { maxKeys: 3 }));
const notObject = fc.oneof(text(12), finite, fc.boolean(), fc.array(json, { maxLength: 3 }));
const tooLong = (max: number) => fc.string({ minLength: max + 1, maxLength: max + 40 }).map((s) => s.padEnd(max + 1, 'x'));
const fraction = fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((n) => !Number.isInteger(n));

/** Values a field of `kind` must refuse, beyond the fixed list in corpus.ts. */
const INVALID_ARB: Record<Kind, fc.Arbitrary<unknown>> = {
  id: fc.oneof(notString, tooLong(256)),
  type: fc.oneof(notString, tooLong(100)),
  text20: fc.oneof(notString, tooLong(20)),
  text256: fc.oneof(notString, tooLong(256)),
  text512: fc.oneof(notString, tooLong(512)),
  iso: fc.oneof(notString, text(30).map((s) => `not a date ${s}`), isoTimestamp.map((s) => s.replace('T', ' ')), isoTimestamp.map((s) => s.replace(/(Z|[+-]\d\d:\d\d)$/, ''))),
  count: fc.oneof(notNumber, fc.integer({ max: -1 }), fraction.map(Math.abs), fc.double({ min: 1.0001e15, max: 1e300, noNaN: true }), fc.constant(raw('1e400'))),
  amount: fc.oneof(notNumber, fc.double({ max: -1e-300, noNaN: true, noDefaultInfinity: true }), fc.double({ min: 1.0001e12, max: 1e300, noNaN: true }), fc.constant(raw('-1e999'))),
  int: fc.oneof(notNumber, fraction, fc.constant(raw('1e400'))),
  created: fc.oneof(notNumber, fc.integer({ max: 0 }), fraction, fc.double({ min: 1.0001e11, max: 1e300, noNaN: true })),
  record: notObject,
  array: fc.oneof(text(12), finite, fc.boolean(), fc.dictionary(text(8), json, { maxKeys: 3 })),
  status: fc.oneof(notString, text(20).map((s) => `not-a-status ${s}`)),
  lwstatus: fc.oneof(fc.boolean(), fraction, fc.array(json, { maxLength: 3 }), fc.dictionary(text(8), json, { maxKeys: 3 }), tooLong(40)),
  enum: fc.oneof(notString, text(12).map((s) => `created ${s}`)),
  strnum: fc.oneof(fc.boolean(), fc.array(json, { maxLength: 3 }), fc.dictionary(text(8), json, { maxKeys: 3 })),
};

const KNOWN_KEYS = new Set(['event_type', 'event_id', 'timestamp', 'data', 'events', 'batch', 'fuzz', 'id', 'type', 'created', 'schema_version',
  'apiVersion', 'action', 'prompt', 'payload', ...FIELDS.map((f) => String(f.path[f.path.length - 1]))]);
const extraKeys = fc.dictionary(
  fc.oneof(text(16), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '')).filter((k) => !KNOWN_KEYS.has(k)),
  json, { minKeys: 1, maxKeys: 5 },
);

/** Adds `extra` keys to every object of a valid body that the schema reads (envelope, items, data). */
function withExtraKeys(body: any, extra: Record<string, unknown>): unknown {
  const add = (o: any) => (o && typeof o === 'object' && !Array.isArray(o) ? Object.assign(Object.create(null), extra, o) : o);
  const event = (e: any) => (e && typeof e === 'object' ? add({ ...e, ...(e.data && typeof e.data === 'object' ? { data: add(e.data) } : {}) }) : e);
  if (Array.isArray(body?.events)) return { ...body, events: body.events.map(event) };
  if (Array.isArray(body?.batch)) return { ...body, batch: body.batch.map(event) };
  return event(body);
}

// ---- properties -------------------------------------------------------------------------------------------

const STALE = 310;

const signatureChaos = fc.record({
  source,
  skew: fc.oneof({ arbitrary: fc.integer({ min: -250, max: 250 }), weight: 3 }, fc.integer({ min: STALE, max: 10 ** 9 }), fc.integer({ min: -(10 ** 9), max: -STALE })),
  wrongSecret: fc.boolean(), otherBody: fc.boolean(), sha1: fc.boolean(),
  mangle: fc.option(fc.record({
    op: fc.constantFrom('replace', 'truncate', 'flip', 'upper', 'pad', 'dupe', 'reverse', 'prefix'),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    text: fc.oneof(text(40), fc.stringMatching(/^(t=\d{0,13}|v1[=,][0-9a-f]{0,64}|sha(1|256)=[0-9a-f]{0,64}|[ ,=]{1,4})$/)),
  }), { nil: undefined }),
  drop: fc.subarray(['x-langfuse-signature', 'x-langwatch-signature', 'x-langwatch-delivery-id', 'x-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'], { maxLength: 2 }),
}).map((r): Spec => {
  const sign: SignSpec = { skew: r.skew, ...(r.wrongSecret ? { secret: 'whsec_d3Jvbmcgc2VjcmV0' } : {}), ...(r.otherBody ? { otherBody: true } : {}),
    ...(r.sha1 && r.source === 'custom' ? { algo: 'sha1' as const } : {}), ...(r.mangle ? { mangle: r.mangle } : {}) };
  const signatureHeaders = { langfuse: ['x-langfuse-signature'], langwatch: ['x-langwatch-signature'], custom: ['x-signature'], standard: ['webhook-id', 'webhook-timestamp', 'webhook-signature'] }[r.source];
  const dropped = r.drop.filter((h) => signatureHeaders.includes(h));
  const stale = r.source !== 'custom' && Math.abs(r.skew) >= STALE;
  const expect: Expect = dropped.length > 0 ? { status: [401], codes: ['missing_signature'] }
    : r.mangle ? { status: [202, 401], codes: SIG_CODES }
    : stale ? { status: [401], codes: ['stale_timestamp'] }
    : r.wrongSecret || r.otherBody ? { status: [401], codes: ['invalid_signature'] }
    : OK;
  return { label: 'signature-chaos', source: r.source, body: { json: validBody(r.source) }, sign, drop: r.drop, expect };
});

const requestShape = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  source: fc.oneof(source, text(60, 1).map((s) => s.toWellFormed()).filter((s) => !(SOURCES as readonly string[]).includes(s) && s !== '.' && s !== '..')),
  contentType: fc.oneof(fc.constantFrom(...JSON_TYPES), fc.constantFrom(null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json', '*/*')),
}).map((r): Spec => {
  const known = (SOURCES as readonly string[]).includes(r.source);
  const body = r.method === 'GET' || r.method === 'HEAD' ? undefined : { json: validBody(known ? (r.source as SourceName) : 'custom') };
  const expect: Expect = r.method !== 'POST' ? { status: [404], codes: ['not_found'] }
    : !known ? { status: [404], codes: ['unknown_source', 'not_found'] }
    : !JSON_TYPES.includes(r.contentType ?? '') ? { status: [415], codes: ['unsupported_media_type'] }
    : OK;
  return { label: 'request-shape', source: r.source, path: `/live-data/webhooks/${encodeURIComponent(r.source)}`, method: r.method, contentType: r.contentType, ...(body ? { body } : {}), expect };
});

export interface FuzzProperty {
  name: string;
  arbitrary: fc.Arbitrary<Spec>;
}

export const PROPERTIES: FuzzProperty[] = [
  {
    name: 'valid deliveries are accepted (and must be stored)',
    arbitrary: fc.tuple(source, fc.constantFrom(...JSON_TYPES), fc.integer({ min: -200, max: 200 })).chain(([s, ct, skew]) =>
      validBodyOf(s).map((body): Spec => ({ label: 'valid', source: s, contentType: ct, body: { json: body }, sign: { skew }, expect: OK }))),
  },
  {
    name: 'unknown keys anywhere are ignored',
    arbitrary: fc.tuple(source, extraKeys).chain(([s, extra]) =>
      validBodyOf(s).map((body): Spec => ({ label: 'extra-keys', source: s, body: { json: withExtraKeys(body, extra) }, expect: OK }))),
  },
  {
    name: 'a wrong value in any field is a 400 naming the field',
    arbitrary: fc.constantFrom(...FIELDS).chain((field: Field) =>
      fc.oneof(fc.constantFrom(...invalidValues(field)), INVALID_ARB[field.kind]).map((v) => wrongFieldSpec(field, v))),
  },
  {
    name: 'hostile bytes with a valid signature are a 400, never a 5xx',
    arbitrary: fc.tuple(source, fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((b) => ({ base64: Buffer.from(b).toString('base64') })),
      text(3000).map((t) => ({ text: t })),
      fc.record({
        events: fc.integer({ min: 1, max: 3 }),
        op: fc.constantFrom('truncate' as const, 'flip' as const, 'insert' as const, 'delete' as const),
        at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.integer({ min: 0, max: 255 }),
      }).map((m) => ({ events: m.events, mutate: { op: m.op, at: m.at, byte: m.byte } })),
    )).map(([s, b]): Spec => ({
      label: 'hostile-bytes', source: s,
      body: 'mutate' in b ? { json: validBody(s, b.events), mutate: b.mutate } : b,
      // A mutated valid body may still be valid (a flipped letter in a name): then it is accepted.
      expect: { status: 'mutate' in b ? [202, 400] : [400], codes: ['invalid_json', 'invalid_payload'] },
    })),
  },
  {
    name: 'any JSON that is not a delivery is a 400 invalid_payload',
    arbitrary: fc.tuple(source, fc.oneof(json, fc.jsonValue({ maxDepth: 12 }), fc.array(fc.dictionary(text(10), json), { maxLength: 4 }).map((events) => ({ events, batch: events })))).map(([s, v]): Spec => ({
      label: 'random-json', source: s, body: { json: v }, expect: { status: [400], codes: ['invalid_payload'] },
    })),
  },
  { name: 'signature headers: only an exact, fresh signature is accepted', arbitrary: signatureChaos },
  { name: 'methods, content types and source names', arbitrary: requestShape },
];
