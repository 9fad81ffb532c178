import { raw, type SourceName, type Spec, T } from './wire.js';

// ---------------------------------------------------------------------------------------------------------
// Valid bodies, and the schema of every source as the fuzzer sees it (field path, kind, nullable).

export const EVENT_TIME = '2026-11-21T10:00:00.000Z';

export function toolkitEvent(i = 0, eventType = 'trace.created'): Record<string, any> {
  return {
    event_type: eventType, event_id: `${T}-e${i}`, timestamp: EVENT_TIME, fuzz: T,
    data: {
      id: `${T}-t${i}`, name: 'summarise_meeting', model: 'gpt-4o-mini', provider: 'openai', status: 'success', latency_ms: 840,
      input_tokens: 1200, output_tokens: 300, cost_usd: 0.00036, user_id: 'user-42', session_id: 'session-7',
      started_at: '2026-11-21T09:59:59.160Z', ended_at: EVENT_TIME, metadata: { env: 'fuzz' },
    },
  };
}

export function langfuseEvent(type: 'prompt-version' | 'monitor-alert' = 'prompt-version'): Record<string, any> {
  const base = { id: `${T}-lf`, timestamp: EVENT_TIME, type, apiVersion: 'v1', fuzz: T };
  return type === 'prompt-version'
    ? { ...base, action: 'created', prompt: { id: `${T}-p`, name: 'meeting-summary', version: 3 } }
    : { ...base, payload: { monitorId: `${T}-m` } };
}

export function langwatchItem(i = 0, type = 'gateway.request.completed'): Record<string, any> {
  return {
    id: `${T}-w${i}`, type, created: 1_795_000_000, schema_version: '2025-06-01', fuzz: T,
    data: {
      request_id: `${T}-r${i}`, model: 'gpt-4o', provider: 'openai', status: 200, duration_ms: 512, latency_ms: 500,
      usage: { input_tokens: 100, output_tokens: 20, prompt_tokens: 100, completion_tokens: 20 },
      cost_usd: 0.001, user_id: 'user-42', virtual_key_id: 'vk-1', error: null,
    },
  };
}

export function validBody(source: SourceName, events = 1): Record<string, any> {
  const n = Array.from({ length: events }, (_, i) => i);
  if (source === 'langfuse') return langfuseEvent(events % 2 === 1 ? 'prompt-version' : 'monitor-alert');
  if (source === 'langwatch') return { batch: n.map((i) => langwatchItem(i)) };
  return events === 1 && source === 'custom' ? toolkitEvent(0) : { events: n.map((i) => toolkitEvent(i)) };
}

export type Kind = 'id' | 'type' | 'text20' | 'text256' | 'text512' | 'iso' | 'count' | 'amount' | 'int' | 'created'
  | 'record' | 'array' | 'status' | 'lwstatus' | 'enum' | 'strnum';
export type Path = (string | number)[];
export interface Field { source: SourceName; base: () => Record<string, any>; path: Path; kind: Kind; nullable: boolean }

const long = (n: number) => 'x'.repeat(n);
/** Values each kind of field must refuse (null is added for fields that are not nullable). */
export const INVALID: Record<Kind, unknown[]> = {
  id: [42, true, [], {}, '', long(257)],
  type: [7, false, ['trace.created'], {}, '', long(101)],
  text20: [20, true, [], {}, long(21)],
  text256: [256, false, ['a'], { a: 1 }, long(257)],
  text512: [512, true, [], {}, long(513)],
  iso: [1_795_000_000, true, {}, '2026-11-21', '2026-11-21T10:00:00', '2026-13-01T00:00:00Z', '2026-02-30T10:00:00Z', '2026-11-21T24:00:00Z', 'yesterday', ''],
  count: ['5', true, [], {}, -1, 1.5, 1e16, raw('1e400')],
  amount: ['0.5', false, [], {}, -0.01, 1e13, raw('1e400'), raw('-1e400')],
  int: ['3', 1.5, true, {}, [], raw('1e400')],
  created: ['1795000000', 0, -1, 1.5, 1e12, true, {}],
  record: ['x', 1, true, [], [{}]],
  array: ['x', 1, true, {}],
  status: [1, true, [], {}, '', 'not-a-status'],
  lwstatus: [1.5, true, [], {}, long(41)],
  enum: ['renamed', 'CREATED', '', 1, true],
  strnum: [true, [], {}],
};

const TRACE_FIELDS: [string, Kind][] = [
  ['id', 'id'], ['name', 'text512'], ['model', 'text256'], ['provider', 'text256'], ['status', 'status'], ['latency_ms', 'amount'],
  ['input_tokens', 'count'], ['output_tokens', 'count'], ['cost_usd', 'amount'], ['user_id', 'text256'], ['session_id', 'text256'],
  ['started_at', 'iso'], ['ended_at', 'iso'], ['metadata', 'record'],
];
const GATEWAY_FIELDS: [string, Kind][] = [
  ['request_id', 'id'], ['model', 'text256'], ['provider', 'text256'], ['status', 'lwstatus'], ['duration_ms', 'amount'],
  ['latency_ms', 'amount'], ['usage', 'record'], ['cost_usd', 'amount'], ['user_id', 'text256'], ['virtual_key_id', 'text256'],
  ...['input_tokens', 'output_tokens', 'prompt_tokens', 'completion_tokens'].map((k): [string, Kind] => [`usage.${k}`, 'count']),
];

function toolkitFields(source: SourceName, prefix: Path, base: () => Record<string, any>): Field[] {
  const f = (path: Path, kind: Kind, nullable = false): Field => ({ source, base, path: [...prefix, ...path], kind, nullable });
  return [
    f(['event_type'], 'type'), f(['event_id'], 'id'), f(['timestamp'], 'iso'), f(['data'], 'record'),
    ...TRACE_FIELDS.map(([k, kind]) => f(['data', k], kind, k !== 'id')),
  ];
}

export const FIELDS: Field[] = [
  ...toolkitFields('custom', [], () => toolkitEvent(0)),
  { source: 'standard', base: () => validBody('standard', 2), path: ['events'], kind: 'array', nullable: false },
  ...toolkitFields('standard', ['events', 1], () => validBody('standard', 2)),
  ...([['id', 'id'], ['timestamp', 'iso'], ['type', 'type'], ['apiVersion', 'text20'], ['action', 'enum'], ['prompt', 'record'],
    ['prompt.id', 'id'], ['prompt.name', 'text512'], ['prompt.version', 'int']] as [string, Kind][])
    .map(([k, kind]): Field => ({ source: 'langfuse', base: () => langfuseEvent('prompt-version'), path: k.split('.'), kind, nullable: false })),
  ...([['payload', 'record'], ['payload.monitorId', 'id']] as [string, Kind][])
    .map(([k, kind]): Field => ({ source: 'langfuse', base: () => langfuseEvent('monitor-alert'), path: k.split('.'), kind, nullable: false })),
  { source: 'langwatch', base: () => validBody('langwatch', 2), path: ['batch'], kind: 'array', nullable: false },
  ...([['id', 'id'], ['type', 'type'], ['created', 'created'], ['schema_version', 'strnum'], ['data', 'record']] as [string, Kind][])
    .map(([k, kind]): Field => ({ source: 'langwatch', base: () => validBody('langwatch', 2), path: ['batch', 1, k], kind, nullable: false })),
  ...GATEWAY_FIELDS.map(([k, kind]): Field => ({
    source: 'langwatch', base: () => validBody('langwatch', 2), path: ['batch', 1, 'data', ...k.split('.')], kind, nullable: k !== 'request_id',
  })),
];

/** A path the way the service names it in messages: `events[1].data.input_tokens`. */
export const fieldPath = (path: Path) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

export function setAt(body: Record<string, any>, path: Path, value: unknown): Record<string, any> {
  const copy = structuredClone(body);
  let node: any = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]!] = value;
  return copy;
}

export const invalidValues = (field: Field) => (field.nullable ? INVALID[field.kind] : [...INVALID[field.kind], null]);

export const wrongFieldSpec = (field: Field, value: unknown, label = 'wrong-field'): Spec => ({
  label, source: field.source, body: { json: setAt(field.base(), field.path, value) },
  expect: { status: [400], codes: ['invalid_payload'], messageStarts: fieldPath(field.path) },
});
