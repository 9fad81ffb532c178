import { parseArgs } from 'node:util';
import type { Pool } from 'pg';
import { pino } from 'pino';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/api/auth/api-keys.repository.js';
import { isRole, ROLES } from '../src/api/auth/roles.js';
import { loadConfig } from '../src/config/config.js';
import { type LocalService, startLocalPostgres } from '../src/dev/local-postgres.js';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/postgres.js';

const USAGE = `npm run keys -- <command>

  create --role viewer|operator|admin --name <name>   prints the key once: store it now
  list [--all]                                         keys (never their secrets); --all with revoked ones
  revoke <id>                                          at once, on every replica

Reads DATABASE_URL like the service (without it, the local development PostgreSQL under DATA_DIR).`;

/** `npm run keys`: API keys from a shell, for the first one and for automation. Exit code 2 on bad usage. */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { role: { type: 'string' }, name: { type: 'string' }, all: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'create' && (!isRole(values.role) || !values.name?.trim())) {
    console.error(`create needs --role (${ROLES.join(', ')}) and --name\n\n${USAGE}`);
    return 2;
  }
  if (command === 'revoke' && rest.length !== 1) {
    console.error(`revoke needs one key id\n\n${USAGE}`);
    return 2;
  }
  if (!['create', 'list', 'revoke'].includes(command)) {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }

  const config = loadConfig(process.env);
  const logger = pino({ level: 'warn' });
  let local: LocalService | undefined;
  let pool: Pool | undefined;
  try {
    if (!config.database.url) local = await startLocalPostgres(config.dataDir, logger);
    const databaseUrl = config.database.url ?? local!.url;
    await migrate(databaseUrl, logger);
    pool = createPool(databaseUrl, 1, logger, 'vertigo-keys-cli');
    if (command === 'create') {
      const { record, key } = await createApiKey(pool, { name: values.name!.trim(), role: values.role as (typeof ROLES)[number], createdBy: 'cli' });
      console.log(`created key ${record.id} "${record.name}" with role ${record.role}.`);
      console.log('The key is shown this once; store it now:');
      console.log(key);
    } else if (command === 'list') {
      const keys = await listApiKeys(pool, { includeRevoked: values.all });
      if (keys.length === 0) console.log('no keys');
      for (const k of keys) {
        const used = k.last_used_at ? `last used ${k.last_used_at.toISOString()}` : 'never used';
        console.log(`${k.id}  ${k.role.padEnd(8)}  ${k.name}  created ${k.created_at.toISOString()}  ${used}${k.revoked_at ? `  REVOKED ${k.revoked_at.toISOString()}` : ''}`);
      }
    } else {
      const record = await revokeApiKey(pool, rest[0]!);
      if (!record) {
        console.error(`no key ${rest[0]}`);
        return 1;
      }
      console.log(`revoked key ${record.id} "${record.name}" (${record.role}) at ${record.revoked_at!.toISOString()}`);
    }
    return 0;
  } finally {
    await pool?.end();
    await local?.stop();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err: Error) => {
  console.error(`keys: ${err.message}`);
  return 1;
});
