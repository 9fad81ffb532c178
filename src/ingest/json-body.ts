import { badRequest } from '../http/errors.js';

/**
 * Parses a webhook body that has passed its signature check. Beyond JSON.parse it refuses nesting deeper
 * than `maxDepth` (PostgreSQL's jsonb and every later reader pay for depth) and makes strings storable:
 * PostgreSQL rejects NUL characters and lone UTF-16 surrogates in text and jsonb, so they are replaced by
 * U+FFFD here rather than failing a whole batch in the worker later.
 */
export const MAX_JSON_DEPTH = 64;

// Only bodies that spell such characters as escapes need the slower reviver pass.
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

export function parseJsonBody(raw: Buffer, maxDepth = MAX_JSON_DEPTH): unknown {
  if (raw.length === 0) throw badRequest('invalid_json', 'body is empty: expected a JSON object');
  const text = raw.toString('utf8');
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) throw badRequest('invalid_json', `body nests deeper than ${maxDepth} levels`);
  try {
    return UNSTORABLE_ESCAPE.test(text) ? JSON.parse(text, storableStrings) : JSON.parse(text);
  } catch (err) {
    throw badRequest('invalid_json', `body is not valid JSON: ${(err as Error).message}`);
  }
}

function storableStrings(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === 'string') return clean(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    // Keys need the same care as values; JSON.parse hands keys in as they are.
    for (const k of Object.keys(value)) {
      const c = clean(k);
      if (c !== k) {
        (value as Record<string, unknown>)[c] = (value as Record<string, unknown>)[k];
        delete (value as Record<string, unknown>)[k];
      }
    }
  }
  void key;
  return value;
}

const clean = (s: string): string => s.toWellFormed().replaceAll('\u0000', '\uFFFD');

/** Nesting depth of a JSON text, counting brackets outside strings; stops counting past `limit`. */
export function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}
