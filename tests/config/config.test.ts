import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, enabledSources, loadConfig } from '../../src/config/config.js';

const load = (env: Record<string, string>) => loadConfig(env, '1.2.3');
const problem = (env: Record<string, string>) => {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = load({});
    expect(config).toMatchObject({
      nodeEnv: 'production',
      role: 'all',
      http: { host: '0.0.0.0', port: 3000 },
      database: { url: undefined },
      redis: { url: undefined },
      queuePrefix: 'vertigo',
      logLevel: 'info',
      webhooks: { toleranceSeconds: 300, skipVerification: false, bodyLimitBytes: 1048576 },
    });
    expect(enabledSources(config)).toEqual([]);
  });

  it('names the variable and the problem in one line', () => {
    expect(problem({ PORT: 'abc' })).toBe('PORT: must be a whole number from 0 to 65535 (got "abc")');
    expect(problem({ PORT: '70000' })).toBe('PORT: must be a whole number from 0 to 65535 (got "70000")');
    expect(problem({ ROLE: 'both' })).toBe('ROLE: must be one of all, api, worker (got "both")');
    expect(problem({ DATABASE_URL: 'mysql://x' })).toBe('DATABASE_URL: must be a URL starting with postgres:// or postgresql://');
    expect(problem({ LOG_LEVEL: 'loud' })).toMatch(/^LOG_LEVEL: must be one of fatal, error/);
    expect(problem({ STANDARD_WEBHOOK_SECRET: 'not-whsec' })).toBe('STANDARD_WEBHOOK_SECRET: every secret must look like whsec_<base64>');
    for (const message of [problem({ PORT: 'abc' }), problem({ CUSTOM_WEBHOOK_SECRET: 'short' })]) expect(message).not.toContain('\n');
  });

  it('never echoes a secret or a URL in an error', () => {
    expect(problem({ CUSTOM_WEBHOOK_SECRET: 'tiny' })).toBe('CUSTOM_WEBHOOK_SECRET: every secret must be at least 8 characters');
    expect(problem({ REDIS_URL: 'http://user:pass@host' })).not.toContain('pass');
  });

  it('splits comma-separated secrets for rotation', () => {
    const config = load({ CUSTOM_WEBHOOK_SECRET: ' first-secret , second-secret ' });
    expect(config.webhooks.secrets.custom).toEqual(['first-secret', 'second-secret']);
    expect(enabledSources(config)).toEqual(['custom']);
  });

  it('reads a secret from the file named by <NAME>_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vertigo-config-'));
    writeFileSync(join(dir, 'secret'), 'file-secret-value\n');
    expect(load({ LANGFUSE_WEBHOOK_SECRET_FILE: join(dir, 'secret') }).webhooks.secrets.langfuse).toEqual(['file-secret-value']);
    expect(problem({ LANGFUSE_WEBHOOK_SECRET_FILE: join(dir, 'missing') })).toMatch(/^LANGFUSE_WEBHOOK_SECRET_FILE: cannot read .*ENOENT/);
    expect(problem({ LANGFUSE_WEBHOOK_SECRET_FILE: join(dir, 'secret'), LANGFUSE_WEBHOOK_SECRET: 'also-set-here' })).toMatch(/set only one/);
  });

  it('allows skipping signature verification only in development', () => {
    expect(problem({ WEBHOOK_SKIP_VERIFICATION: 'true' })).toBe('WEBHOOK_SKIP_VERIFICATION: may be true only when NODE_ENV=development');
    const dev = load({ WEBHOOK_SKIP_VERIFICATION: 'true', NODE_ENV: 'development' });
    expect(enabledSources(dev)).toEqual(['langfuse', 'langwatch', 'custom', 'standard']);
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list of proxies', () => {
    expect(load({}).http.trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(load({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(load({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).http.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(problem({ TRUST_PROXY: 'everyone' })).toMatch(/^TRUST_PROXY: must be true, false/);
  });

  it('treats an empty variable as unset', () => {
    expect(load({ PORT: '', CUSTOM_WEBHOOK_SECRET: '' }).http.port).toBe(3000);
  });
});

describe('.env.example', () => {
  const example = Object.fromEntries(
    readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

  it('lists every variable the service reads, with the defaults it applies', () => {
    const source = readFileSync(new URL('../../src/config/config.ts', import.meta.url), 'utf8');
    const read = [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
    expect(Object.keys(example).sort()).toEqual(read);
    expect(load(example)).toEqual(load({}));
  });
});
