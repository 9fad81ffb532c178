import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/http/errors.js';
import { jsonDepth, parseJsonBody } from '../../src/ingest/json-body.js';

describe('parseJsonBody', () => {
  it('parses ordinary JSON unchanged', () => {
    expect(parseJsonBody(Buffer.from('{"a":[1,{"b":"caf\\u00e9"}]}'))).toEqual({ a: [1, { b: 'café' }] });
  });
  it('replaces NUL and lone surrogates, in keys and values, by U+FFFD', () => {
    expect(parseJsonBody(Buffer.from('{"k\\u0000":"a\\u0000b","s":"\\ud800x","ok":"\\ud83d\\ude00"}'))).toEqual({
      'k\uFFFD': 'a\uFFFDb',
      s: '\uFFFDx',
      ok: '😀',
    });
  });
  it('rejects empty, invalid and too deeply nested bodies with 400 invalid_json', () => {
    for (const text of ['', '{', '{"a":1,}', '[1]]'.repeat(1), '['.repeat(65) + ']'.repeat(65)]) {
      let error: unknown;
      try {
        parseJsonBody(Buffer.from(text));
      } catch (err) {
        error = err;
      }
      expect(error, text).toBeInstanceOf(HttpError);
      expect((error as HttpError).code).toBe('invalid_json');
    }
  });
});

describe('jsonDepth', () => {
  it('ignores brackets inside strings and escaped quotes', () => {
    expect(jsonDepth('{"a":"[[[{{{\\"[["}', 64)).toBe(1);
    expect(jsonDepth('[[[]],[[[1]]]]', 64)).toBe(4);
  });
});
