import type { Spec, Wire } from '../../tests/fuzz/wire.js';
import type { Outcome } from './send.js';

const SHAPE_KEYS = ['error'];

/** What is wrong with the reply to one request: [] when it meets every invariant and the spec's expectation. */
export function checkReply(spec: Spec, wire: Wire, outcome: Outcome): string[] {
  if (outcome.refused) return [];
  if (outcome.status === undefined) return spec.expect.closeOk ? [] : [`no reply (${outcome.error})`];
  const problems: string[] = [];
  const status = outcome.status;
  if (status >= 500) problems.push(`server error ${status}`);
  if (!spec.expect.status.includes(status)) problems.push(`status ${status}, expected ${spec.expect.status.join(' or ')}`);
  let json: any;
  try {
    json = JSON.parse(outcome.text ?? '');
  } catch {
    json = undefined;
  }
  if (status >= 200 && status < 300) {
    if (json?.status !== 'accepted' || typeof json.delivery_id !== 'string' || !(json.events >= 1)) {
      problems.push(`2xx body is not {status:"accepted",delivery_id,events}: ${outcome.text?.slice(0, 200)}`);
    }
  } else if (wire.method !== 'HEAD') {
    const error = json?.error;
    if (!json || typeof json !== 'object' || Object.keys(json).join() !== SHAPE_KEYS.join() || typeof error !== 'object' || !error) {
      problems.push(`error body is not {"error":{"code","message"}}: ${JSON.stringify(outcome.text?.slice(0, 300))}`);
    } else {
      const { code, message } = error as { code: unknown; message: unknown };
      if (typeof code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(code)) problems.push(`error.code ${JSON.stringify(code)}`);
      if (typeof message !== 'string' || message.trim() === '') problems.push('error.message is empty');
      else if (/\n\s+at |node_modules|\.ts:\d+/.test(message) || message.length > 2000) problems.push(`error.message leaks internals: ${message.slice(0, 200)}`);
      if (spec.expect.codes && !spec.expect.codes.includes(code as string)) problems.push(`code ${code}, expected ${spec.expect.codes.join(' or ')}`);
      if (typeof message === 'string') {
        const want = spec.expect.messageStarts;
        if (want !== undefined && status === 400 && !message.startsWith(`${want}:`)) problems.push(`message ${JSON.stringify(message)} does not start with "${want}:"`);
        if (spec.expect.messageIncludes && !message.includes(spec.expect.messageIncludes)) problems.push(`message ${JSON.stringify(message)} lacks "${spec.expect.messageIncludes}"`);
      }
    }
    if (!outcome.contentType?.startsWith('application/json')) problems.push(`content-type ${JSON.stringify(outcome.contentType)}`);
  }
  return problems;
}
