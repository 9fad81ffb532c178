import {
  EVENT_TIME, FIELDS, fieldPath, invalidValues, langfuseEvent, langwatchItem, toolkitEvent, validBody, wrongFieldSpec,
} from './fields.js';
import { type BodySpec, type Expect, type SignSpec, SOURCES, type SourceName, type Spec, T } from './wire.js';

// ---------------------------------------------------------------------------------------------------------
// The hand-written corpus. Signed with the real scheme of the source unless `sign: 'none'`.

export const BODY_LIMIT = 1024 * 1024; // WEBHOOK_BODY_LIMIT_BYTES default, which the fuzzed service keeps
const OK: Expect = { status: [202] };
const JSON_ERR: Expect = { status: [400], codes: ['invalid_json'] };
const PAYLOAD: Expect = { status: [400], codes: ['invalid_payload'] };
const at = (field: string): Expect => ({ ...PAYLOAD, messageStarts: field });
const SIG = (code: string): Expect => ({ status: [401], codes: [code] });
const NOT_FOUND: Expect = { status: [404], codes: ['not_found'] };
const UNKNOWN: Expect = { status: [404], codes: ['unknown_source'] };
const MEDIA: Expect = { status: [415], codes: ['unsupported_media_type'] };
const TOO_LARGE: Expect = { status: [413], codes: ['payload_too_large'], closeOk: true };
/** Malformed HTTP, refused before routing: still a 4xx in the error shape. */
const HTTP_ERR: Expect = { status: [400, 431] };

const text = (source: SourceName, events = 1) => JSON.stringify(validBody(source, events));
const each = (make: (source: SourceName) => Spec | Spec[]): Spec[] => SOURCES.flatMap(make);
const c = (label: string, source: string, body: BodySpec | undefined, expect: Expect, more: Partial<Spec> = {}): Spec =>
  ({ label, source, ...(body ? { body } : {}), expect, ...more });
const custom = (data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ json: { ...toolkitEvent(0), ...extra, data: { ...toolkitEvent(0).data, ...data } } });
const bytes = (...parts: (string | number[])[]) => ({ base64: Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))).toString('base64') });
const blobHead = (source: SourceName, key = 'blob') => ({
  langfuse: `{"id":"${T}-lf","timestamp":"${EVENT_TIME}","type":"fuzz.blob","fuzz":"${T}","${key}":`,
  langwatch: `{"batch":[{"id":"${T}-w","type":"gateway.fuzz","created":1795000000,"fuzz":"${T}","data":{"${key}":`,
  custom: `{"event_type":"fuzz.blob","event_id":"${T}-e","fuzz":"${T}","data":{"${key}":`,
  standard: `{"event_type":"fuzz.blob","event_id":"${T}-e","fuzz":"${T}","data":{"${key}":`,
})[source];
const blobTail = (source: SourceName) => ({ langfuse: '}', langwatch: '}}]}', custom: '}}', standard: '}}' })[source];
const blob = (source: SourceName, size: number): BodySpec => ({ huge: { head: `${blobHead(source)}"`, fill: 'x', size, tail: `"${blobTail(source)}` } });
const wrap = (source: SourceName, value: string, key?: string): BodySpec => ({ text: `${blobHead(source, key)}${value}${blobTail(source)}` });
const nested = (depth: number) => `{"event_type":"fuzz.deep","event_id":"${T}-e","fuzz":"${T}","data":${'{"a":'.repeat(depth - 1)}1${'}'.repeat(depth - 1)}}`;
const minimal = (n: number) => ({ events: Array.from({ length: n }, (_, i) => ({ event_type: 'fuzz.min', event_id: `${T}-e${i}` })) });
const INVALID_UTF8: [string, number[]][] = [['0xFF', [0xff]], ['overlong NUL', [0xc0, 0x80]], ['overlong slash', [0xe0, 0x80, 0xaf]], ['CESU surrogate', [0xed, 0xa0, 0x80]], ['truncated sequence', [0xe2, 0x82]]];
const BROKEN: [string, string][] = [
  ['open brace', '{'], ['dangling key', '{"event_type":'], ['trailing comma', '{"a":1,}'], ['single quotes', "{'a':1}"], ['NaN', '{"a":NaN}'],
  ['undefined', 'undefined'], ['unterminated string', '{"a":"abc}'], ['unclosed array', '[1,2'], ['two documents', '{"a":1}{"b":2}'],
  ['whitespace only', ' \t\r\n '], ['comment', '{"a":1 /* c */}'], ['bad escape', '{"a":"\\x41"}'], ['short unicode escape', '{"a":"\\u12"}'],
  ['raw NUL in string', '{"a":"x\u0000y"}'], ['NUL after document', '{"a":1}\u0000'], ['raw newline in string', '{"a":"line\nbreak"}'],
  ['BOM', '\uFEFF{"a":1}'], ['leading zeros', '{"a":007}'], ['hex number', '{"a":0x10}'], ['plus sign', '{"a":+1}'],
];
const MANGLED: [SourceName, string, SignSpec['mangle'], Expect][] = [
  ['custom', 'algorithm only', { op: 'replace', at: 0, text: 'sha256' }, SIG('invalid_signature')],
  ['custom', 'empty digest', { op: 'replace', at: 0, text: 'sha256=' }, SIG('invalid_signature')],
  ['custom', 'md5', { op: 'replace', at: 0, text: 'md5=d41d8cd98f00b204e9800998ecf8427e' }, SIG('invalid_signature')],
  ['custom', 'non-hex digest', { op: 'replace', at: 0, text: `sha256=${'z'.repeat(64)}` }, SIG('invalid_signature')],
  ['custom', 'sha512', { op: 'replace', at: 0, text: `sha512=${'0'.repeat(128)}` }, SIG('invalid_signature')],
  ['custom', 'bare equals', { op: 'replace', at: 0, text: '=' }, SIG('invalid_signature')],
  ['custom', 'upper case', { op: 'upper', at: 0, text: '' }, OK],
  ['custom', 'truncated', { op: 'truncate', at: 0.9, text: '' }, SIG('invalid_signature')],
  ['custom', 'one hex digit changed', { op: 'flip', at: 0.5, text: '' }, SIG('invalid_signature')],
  ['custom', 'two signatures', { op: 'dupe', at: 0, text: '' }, SIG('invalid_signature')],
  ['custom', 'odd length', { op: 'prefix', at: 1, text: 'a' }, SIG('invalid_signature')],
  ...(['langfuse', 'langwatch'] as const).flatMap((s): [SourceName, string, SignSpec['mangle'], Expect][] => [
    [s, 'v1 before t', { op: 'reverse', at: 0, text: '' }, OK],
    [s, 'header repeated', { op: 'dupe', at: 0, text: '' }, OK],
    [s, 'empty parts', { op: 'prefix', at: 0, text: ',,,' }, OK],
    [s, '1000 bogus v1 before the real one', { op: 'prefix', at: 0, text: 'v1=00,'.repeat(1000) }, OK],
    [s, 'truncated', { op: 'truncate', at: 0.5, text: '' }, SIG('invalid_signature')],
    [s, 'no t', { op: 'replace', at: 0, text: `v1=${'0'.repeat(64)}` }, SIG('invalid_signature')],
    [s, 'upper-case keys', { op: 'upper', at: 0, text: '' }, SIG('invalid_signature')],
    [s, 'leading equals', { op: 'pad', at: 0, text: '=' }, SIG('invalid_signature')],
    [s, 'digit changed', { op: 'flip', at: 0.8, text: '' }, SIG('invalid_signature')],
    [s, 'garbage', { op: 'replace', at: 0, text: 't=,v1=,=,,==' }, SIG('invalid_signature')],
  ]),
  ['standard', 'empty v1', { op: 'replace', at: 0, text: 'v1,' }, SIG('invalid_signature')],
  ['standard', 'v2', { op: 'replace', at: 0, text: 'v2,AAAA' }, SIG('invalid_signature')],
  ['standard', 'bogus first in list', { op: 'prefix', at: 0, text: 'v1,AAAA v1a,b ' }, OK],
  ['standard', 'upper case', { op: 'upper', at: 0, text: '' }, SIG('invalid_signature')],
  ['standard', 'truncated', { op: 'truncate', at: 0.7, text: '' }, SIG('invalid_signature')],
];

export const CORPUS: Spec[] = [
  // Baselines: what a real sender sends is accepted.
  ...each((s) => c(`valid (${s})`, s, { json: validBody(s) }, OK)),
  ...(['langwatch', 'custom', 'standard'] as const).map((s) => c(`valid batch (${s})`, s, { json: validBody(s, 3) }, OK)),
  c('unknown event type', 'custom', { json: toolkitEvent(0, 'fuzz.unknown') }, OK),
  c('trace.deleted', 'custom', { json: { ...toolkitEvent(0, 'trace.deleted'), data: { id: `${T}-t0` } } }, OK),
  c('alert.triggered without trace fields', 'standard', { json: { ...toolkitEvent(0, 'alert.triggered'), data: {} } }, OK),
  c('monitor-alert', 'langfuse', { json: langfuseEvent('monitor-alert') }, OK),
  c('replayed delivery, same signature', 'langfuse', { json: validBody('langfuse') }, OK, { times: 2 }),
  c('replayed delivery (custom)', 'custom', { json: validBody('custom') }, OK, { times: 3 }),

  // Broken, truncated and non-object JSON, signed correctly so that it reaches the parser.
  ...BROKEN.flatMap(([name, body]) => each((s) => c(`broken JSON: ${name} (${s})`, s, { text: body }, JSON_ERR))),
  ...each((s) => c(`truncated valid body (${s})`, s, { text: text(s).slice(0, text(s).length >> 1) }, JSON_ERR)),
  ...['null', 'true', '42', '"string"', '[]', '[{}]', '{}'].flatMap((b) => each((s) => c(`top-level ${b} (${s})`, s, { text: b }, PAYLOAD))),
  c('escaped key equals the real one', 'custom', { text: text('custom').replace('"event_type"', '"event\\u005ftype"') }, OK),

  // Nesting.
  c('depth 64 is allowed', 'custom', { text: nested(64) }, OK),
  ...each((s) => c(`depth 65 (${s})`, s, { text: nested(65) }, { ...JSON_ERR, messageIncludes: '64' })),
  c('10k nested objects', 'custom', { text: nested(10_000) }, JSON_ERR),
  c('10k nested arrays', 'langwatch', { text: `${'['.repeat(10_000)}${']'.repeat(10_000)}` }, JSON_ERR),
  c('10k nested arrays, unsigned', 'custom', { text: `${'['.repeat(10_000)}${']'.repeat(10_000)}` }, SIG('missing_signature'), { sign: 'none' }),
  c('500k open brackets', 'standard', { huge: { head: '', fill: '[', size: 500_000, tail: '' } }, JSON_ERR),
  c('brackets inside a string do not nest', 'custom', wrap('custom', `"${'[{'.repeat(20_000)}"`), OK),

  // Sizes: at, just over and far over the body limit; event counts; long strings.
  ...(['langfuse', 'custom'] as const).map((s) => c(`body exactly at the limit (${s})`, s, blob(s, BODY_LIMIT), OK)),
  ...(['langwatch', 'standard'] as const).map((s) => c(`body 1 KB under the limit (${s})`, s, blob(s, BODY_LIMIT - 1024), OK)),
  ...each((s) => c(`body one byte over the limit (${s})`, s, blob(s, BODY_LIMIT + 1), TOO_LARGE)),
  c('body 4x the limit (socket)', 'custom', blob('custom', 4 * BODY_LIMIT), TOO_LARGE, { transport: 'socket' }),
  c('body over the limit, chunked', 'custom', blob('custom', BODY_LIMIT + 1), TOO_LARGE, { chunked: true }),
  c('body under the limit, chunked', 'langwatch', blob('langwatch', 1000), OK, { chunked: true }),
  c('150k \\u0000 escapes', 'custom', wrap('custom', `"${'\\u0000'.repeat(150_000)}"`), OK),
  c('100k lone surrogate escapes', 'langwatch', wrap('langwatch', `"${'\\udc00'.repeat(100_000)}"`), OK),
  c('400k-element array', 'standard', wrap('standard', `[${'0,'.repeat(400_000)}0]`), OK),
  c('50k metadata keys', 'custom', { text: JSON.stringify(toolkitEvent(0)).replace('{"env":"fuzz"}', `{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`) }, OK),
  c('1000 events (the limit)', 'custom', { json: minimal(1000) }, OK),
  c('1001 events', 'standard', { json: minimal(1001) }, at('events')),
  c('1001 batch items', 'langwatch', { json: { batch: Array.from({ length: 1001 }, (_, i) => langwatchItem(i, 'gateway.fuzz')) } }, at('batch')),
  c('empty events', 'custom', { json: { events: [] } }, at('events')),
  c('empty batch', 'langwatch', { json: { batch: [] } }, at('batch')),
  c('name of 512', 'custom', custom({ name: 'n'.repeat(512) }), OK),
  c('name of 513', 'custom', custom({ name: 'n'.repeat(513) }), at('data.name')),
  c('400-digit number', 'custom', { text: text('custom').replace('"input_tokens":1200', `"input_tokens":1${'0'.repeat(400)}`) }, at('data.input_tokens')),
  // Valid by the schema, so they must be stored: the largest values and the extreme timestamps it allows.
  // What PostgreSQL cannot store is a 400 naming the field, never an accepted event that fails in the worker.
  c('cost_usd at the schema maximum (1e9)', 'custom', custom({ cost_usd: 1e9 }), OK),
  c('cost_usd at 1e10', 'custom', custom({ cost_usd: 1e10 }), { ...PAYLOAD, messageStarts: 'data.cost_usd' }),
  c('cost_usd at 1e12 (langwatch)', 'langwatch', { json: { batch: [{ ...langwatchItem(0), data: { ...langwatchItem(0).data, cost_usd: 1e12 } }] } }, PAYLOAD),
  c('token counts at the schema maximum', 'standard', { json: { events: [{ ...toolkitEvent(0), data: { ...toolkitEvent(0).data, input_tokens: 1e15, output_tokens: 1e15, latency_ms: 1e12 } }] } }, OK),
  c('started_at in year 0000', 'custom', custom({ started_at: '0000-01-01T00:00:00Z' }), { ...PAYLOAD, messageStarts: 'data.started_at' }),
  c('event timestamp in year 0000', 'langfuse', { json: { ...langfuseEvent(), timestamp: '0000-06-01T00:00:00Z' } }, { ...PAYLOAD, messageStarts: 'timestamp' }),
  c('event timestamp past 9999 once in UTC', 'standard', { json: { events: [{ ...toolkitEvent(0), timestamp: '9999-12-31T23:59:59-23:59' }] } }, PAYLOAD),
  c('started_at 23:59 ahead of UTC', 'standard', { json: { events: [{ ...toolkitEvent(0), data: { ...toolkitEvent(0).data, started_at: '2026-11-21T23:00:00+23:59' } }] } }, PAYLOAD),
  c('started_at 14:00 ahead of UTC', 'standard', { json: { events: [{ ...toolkitEvent(0), data: { ...toolkitEvent(0).data, started_at: '2026-11-21T23:00:00+14:00' } }] } }, OK),
  c('nanosecond fractions', 'custom', custom({ started_at: '2026-11-21T09:59:59.123456789+05:30' }), OK),

  // Unicode: lone surrogates, NULs, bidi, emoji, invalid UTF-8 bytes, other charsets.
  ...each((s) => c(`lone surrogates and \\u0000 escaped in ids and keys (${s})`, s, { text: text(s).replaceAll(`${T}-`, `${T}-\\ud800\\u0000-`).replace('"fuzz":', '"\\udfff\\u0000":1,"fuzz":') }, OK)),
  ...INVALID_UTF8.flatMap(([name, b]) => each((s) => c(`invalid UTF-8 ${name} in a string (${s})`, s, bytes(`${blobHead(s)}"a`, b, `z"${blobTail(s)}`), OK))),
  c('RTL override, emoji, ZWJ, non-characters', 'custom', custom({ name: '\u202Egnp.exe\u202C 👩‍👩‍👧‍👦 🏳️‍🌈 \uFFFF\uFFFE', model: 'ﷺ' }), OK),
  c('300 combining marks', 'custom', custom({ name: `Z${'\u0301'.repeat(299)}` }), OK),
  c('600 combining marks', 'custom', custom({ name: `Z${'\u0301'.repeat(599)}` }), at('data.name')),
  // Lengths are counted in code points: 256 emoji (512 UTF-16 units) are a 256-character user_id.
  c('astral characters at the length limit', 'custom', custom({ user_id: '😀'.repeat(256) }), OK),
  c('astral characters over the length limit', 'custom', custom({ user_id: '😀'.repeat(257) }), at('data.user_id')),
  c('UTF-16LE body', 'custom', { base64: Buffer.from(text('custom'), 'utf16le').toString('base64') }, JSON_ERR, { contentType: 'application/json; charset=utf-16le' }),
  c('Latin-1 bytes declared as Latin-1', 'custom', bytes(`${blobHead('custom')}"caf`, [0xe9], `"${blobTail('custom')}`), OK, { contentType: 'application/json; charset=iso-8859-1' }),

  // Duplicate keys: the last one wins, and is what gets validated.
  c('duplicate event_type, last wrong', 'custom', { text: text('custom').replace('{', '{"event_type":"trace.created","event_type":42,').replace(/"event_type":"trace.created",(?!"event_type")/, '') }, at('event_type')),
  c('duplicate data, last null', 'standard', { text: text('custom').replace(/}$/, ',"data":null}') }, at('data')),
  c('duplicate event_id, last valid', 'custom', { text: text('custom').replace('{', '{"event_id":"dup",') }, OK),
  c('duplicate batch, last not an array', 'langwatch', { text: text('langwatch').replace(/}$/, ',"batch":{}}') }, at('batch')),
  c('__proto__ and constructor keys', 'custom', { text: text('custom').replace('{"env":"fuzz"}', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"toString":1}').replace('{', '{"__proto__":{"event_type":42},') }, OK),
  c('event_type only under __proto__', 'custom', { text: `{"__proto__":{"event_type":"trace.created"},"event_id":"${T}-e","data":{"id":"${T}-t"}}` }, at('event_type')),

  // Headers: injection, size, duplicates, malformed HTTP.
  c('8 KB header', 'custom', { json: validBody('custom') }, OK, { headers: [['x-pad', 'a'.repeat(8192)]] }),
  c('200 extra headers', 'langwatch', { json: validBody('langwatch') }, OK, { headers: Array.from({ length: 200 }, (_, i): [string, string] => [`x-h${i}`, `${i}`]) }),
  c('20 KB header', 'custom', { json: validBody('custom') }, HTTP_ERR, { headers: [['x-pad', 'a'.repeat(20_000)]] }),
  c('CRLF in a header value (fetch refuses)', 'custom', { json: validBody('custom') }, OK, { headers: [['x-note', 'a\r\nx-signature: sha256=00']] }),
  c('CRLF-injected signature header', 'custom', { json: validBody('custom') }, SIG('invalid_signature'), { transport: 'socket', headers: [['x-note', 'a\r\nx-signature: sha256=00']] }),
  c('bare LF in a header value', 'custom', { json: validBody('custom') }, HTTP_ERR, { transport: 'socket', headers: [['x-note', 'a\nx-evil: 1']] }),
  c('NUL in a header value', 'custom', { json: validBody('custom') }, HTTP_ERR, { transport: 'socket', headers: [['x-note', 'a\u0000b']] }),
  c('space in a header name', 'custom', { json: validBody('custom') }, HTTP_ERR, { transport: 'socket', headers: [['x note', 'a']] }),
  c('Expect: 100-continue', 'custom', { json: validBody('custom') }, OK, { transport: 'socket', headers: [['expect', '100-continue']] }),
  c('Expect: something else', 'custom', { json: validBody('custom') }, { status: [202, 417] }, { transport: 'socket', headers: [['expect', 'teapot']] }),
  c('content-length and transfer-encoding', 'custom', { json: validBody('custom') }, HTTP_ERR, { transport: 'socket', headers: [['transfer-encoding', 'chunked'], ['content-length', '5']] }),
  c('invalid content-length', 'custom', { json: validBody('custom') }, HTTP_ERR, { transport: 'socket', headers: [['content-length', 'abc']] }),
  c('content-length shorter than the body', 'custom', { json: validBody('custom') }, { status: [400, 401] }, { transport: 'socket', headers: [['content-length', '10']] }),
  c('a second, wrong X-Signature', 'custom', { json: validBody('custom') }, SIG('invalid_signature'), { transport: 'socket', headers: [['+x-signature', 'sha256=00']] }),
  c('a second content-type', 'custom', { json: validBody('custom') }, { status: [202, 415] }, { transport: 'socket', headers: [['+content-type', 'text/plain']] }),
  c('a second webhook-id', 'standard', { json: validBody('standard') }, { status: [202, 401], codes: ['invalid_signature'] }, { headers: [['+webhook-id', 'other']] }),
  c('Latin-1 bytes in webhook-id', 'standard', { json: validBody('standard') }, SIG('invalid_signature'), { headers: [['webhook-id', 'caf\u00e9']] }),
  c('X-LangWatch-Delivery-Id of 8 KB', 'langwatch', { json: validBody('langwatch') }, OK, { headers: [['x-langwatch-delivery-id', `${T}-${'d'.repeat(8192)}`]] }),

  // Empty bodies, methods, content types, encodings.
  ...each((s) => c(`signed empty body (${s})`, s, { text: '' }, { ...JSON_ERR, messageIncludes: 'empty' })),
  ...each((s) => c(`unsigned empty body (${s})`, s, { text: '' }, SIG('missing_signature'), { sign: 'none' })),
  c('no body and no content type', 'custom', undefined, { status: [400, 415] }, { contentType: null }),
  ...['GET', 'HEAD'].map((m) => c(`${m} on the webhook route`, 'custom', undefined, NOT_FOUND, { method: m })),
  ...['PUT', 'DELETE', 'PATCH', 'OPTIONS'].map((m) => c(`${m} on the webhook route`, 'langfuse', { json: validBody('langfuse') }, NOT_FOUND, { method: m })),
  ...['TRACE', 'PROPFIND', 'MKCOL'].map((m) => c(`${m} on the webhook route`, 'custom', undefined, NOT_FOUND, { method: m, transport: 'socket' })),
  c('unknown method', 'custom', { json: validBody('custom') }, HTTP_ERR, { method: 'FOO', transport: 'socket' }),
  c('lower-case method', 'custom', { json: validBody('custom') }, HTTP_ERR, { method: 'post', transport: 'socket' }),
  c('CONNECT', 'custom', undefined, { status: [400, 404], closeOk: true }, { method: 'CONNECT', path: '127.0.0.1:9', transport: 'socket' }),
  ...['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.api+json', 'application/cloudevents+json; charset=utf-8', 'application/json;']
    .map((ct) => c(`content type ${ct}`, 'standard', { json: validBody('standard') }, OK, { contentType: ct })),
  ...[null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/json', 'application/jsonp',
    'application/json+x', 'application/json, text/plain', '*/*', 'application/octet-stream', 'application/xml']
    .map((ct) => c(`content type ${ct ?? 'absent'}`, 'custom', { json: validBody('custom') }, MEDIA, { contentType: ct })),
  ...each((s) => c(`gzip body, signed (${s})`, s, { gzip: validBody(s) }, JSON_ERR)),
  c('content-encoding br on a plain body', 'custom', { json: validBody('custom') }, { status: [202, 415] }, { headers: [['content-encoding', 'br']] }),

  // Timestamps: stale, future, replayed, malformed.
  ...(['langfuse', 'langwatch', 'standard'] as const).flatMap((s) => [
    // -301 is stale for sure (the server's clock only moves on); a future one needs a margin for the time in flight.
    ...[-301, 320, -3600, 86_400 * 365].map((skew) => c(`timestamp ${skew} s away (${s})`, s, { json: validBody(s) }, SIG('stale_timestamp'), { sign: { skew } })),
    ...[-250, 250].map((skew) => c(`timestamp ${skew} s away (${s})`, s, { json: validBody(s) }, OK, { sign: { skew } })),
  ]),
  c('custom has no timestamp to go stale', 'custom', { json: validBody('custom') }, OK, { sign: { skew: -86_400 } }),
  ...(['langfuse', 'langwatch'] as const).flatMap((s) => [
    ...['t=0,v1=00', `t=${'9'.repeat(12)},v1=00`].map((v) => c(`${v.slice(0, 16)} (${s})`, s, { json: validBody(s) }, SIG('stale_timestamp'), { headers: [[`x-${s}-signature`, v]] })),
    ...[`t=${'1'.repeat(13)},v1=00`, 't=-5,v1=00', 't=1.5e9,v1=00', 't=,v1=00', 't=0x10,v1=00'].map((v) =>
      c(`${v.slice(0, 16)} (${s})`, s, { json: validBody(s) }, SIG('invalid_signature'), { headers: [[`x-${s}-signature`, v]] })),
  ]),
  ...['0', '999999999999'].map((ts) => c(`webhook-timestamp ${ts}`, 'standard', { json: validBody('standard') }, SIG('stale_timestamp'), { headers: [['webhook-timestamp', ts]] })),
  ...['abc', '1e9', '-1', '1795000000.5', '9'.repeat(13)].map((ts) => c(`webhook-timestamp ${ts}`, 'standard', { json: validBody('standard') }, SIG('invalid_signature'), { headers: [['webhook-timestamp', ts]] })),

  // Signature headers: missing, wrong secret, other body, malformed.
  ...each((s) => c(`no signature (${s})`, s, { json: validBody(s) }, SIG('missing_signature'), { sign: 'none' })),
  ...each((s) => c(`wrong secret (${s})`, s, { json: validBody(s) }, SIG('invalid_signature'), { sign: { secret: s === 'standard' ? 'whsec_d3Jvbmc=' : 'wrong' } })),
  ...each((s) => c(`signature over other bytes (${s})`, s, { json: validBody(s) }, SIG('invalid_signature'), { sign: { otherBody: true } })),
  c('sha1 signature', 'custom', { json: validBody('custom') }, OK, { sign: { algo: 'sha1' } }),
  c('empty X-Signature', 'custom', { json: validBody('custom') }, SIG('missing_signature'), { headers: [['x-signature', '']] }),
  ...['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => c(`no ${h}`, 'standard', { json: validBody('standard') }, SIG('missing_signature'), { drop: [h] })),
  c('webhook-id other than the signed one', 'standard', { json: validBody('standard') }, SIG('invalid_signature'), { headers: [['webhook-id', `${T}-other`]] }),
  ...MANGLED.map(([s, name, mangle, expect]) => c(`signature ${name} (${s})`, s, { json: validBody(s) }, expect, { sign: { mangle } })),

  // The :source segment and the path around it.
  ...['CUSTOM', 'custom%20', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(100), '%F0%9F%98%80', 'custom%00', '%27%3B--']
    .map((s) => c(`unknown source ${s.slice(0, 20)} (${s.length} chars)`, s, { json: validBody('custom') }, UNKNOWN)),
  ...['x'.repeat(101), 'x'.repeat(5000)].map((s) => c(`unknown source of ${s.length} characters`, s, { json: validBody('custom') }, UNKNOWN)),
  c('dot segments (fetch resolves them)', '%2e%2e', { json: validBody('custom') }, { status: [404], codes: ['not_found', 'unknown_source'] }),
  c('malformed percent-encoding in the source', 'custom', { json: validBody('custom') }, { status: [400, 404] }, { path: '/live-data/webhooks/%E0%A4%A' }),
  c('percent-encoded known source', 'custom', { json: validBody('custom') }, OK, { path: '/live-data/webhooks/cust%6Fm' }),
  c('query string', 'custom', { json: validBody('custom') }, OK, { path: '/live-data/webhooks/custom?source=langfuse&x=1&x=2' }),
  ...['/live-data/webhooks/custom/', '/live-data/webhooks//custom', '/live-data/webhooks/custom/extra', '/live-data/webhooks', '/live-data/webhooks/']
    .map((path) => c(`path ${path}`, 'custom', { json: validBody('custom') }, { status: [404], codes: ['not_found', 'unknown_source'] }, { path })),
  c('20 KB path', 'x'.repeat(20_000), { json: validBody('custom') }, HTTP_ERR),

  // Every field of every source's schema, with every kind of value it must refuse.
  ...FIELDS.flatMap((field) => invalidValues(field).map((v) => wrongFieldSpec(field, v, `${field.source} ${fieldPath(field.path)} = ${JSON.stringify(v)?.slice(0, 30)}`))),
];
