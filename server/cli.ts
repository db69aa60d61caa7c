// Composition root of the operator CLI (`npm run cli -- <command>`): config and store as the server opens them.
import { loadConfig, ConfigError, type Config } from '#data/config.ts';
import { openBackendStore } from './store/open.ts';
import { systemClock } from './deps.ts';
import { runCli, isHelpRequest, USAGE } from './cli/run.ts';

const argv = process.argv.slice(2);

async function main(): Promise<number> {
  if (isHelpRequest(argv)) {
    process.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tidings: configuration error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const clock = systemClock;
  const db = openBackendStore(config.stateDir, clock);
  try {
    return await runCli(argv, { db, config, clock, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  } finally {
    db.close();
  }
}

process.exitCode = await main();
