// Parses the operator command line and dispatches to the staff and mail commands; returns the exit code.
import type { CliContext } from './context.ts';
import { staffCommand, STAFF_HELP } from './staff.ts';
import { mailCommand } from './mail.ts';
import { webhookCommand, WEBHOOK_HELP } from './webhook.ts';

export const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
${STAFF_HELP}
  mail ...                          mail system configuration and imports (see: mail --help)
${WEBHOOK_HELP}

Environment: TIDINGS_STATE_DIR selects the state folder (default ./state), as for the server.
Exit codes: 0 done, 1 refused (the message says why), 2 usage or configuration error.
`;

/** True when the caller only asks for help, so no database needs opening. */
export function isHelpRequest(argv: string[]): boolean {
  return (
    argv.length === 0 ||
    argv[0] === '--help' ||
    argv[0] === '-h' ||
    argv[0] === 'help' ||
    (argv[0] === 'staff' && (argv.length === 1 || argv.includes('--help') || argv.includes('-h')))
  );
}

export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  const [command, ...rest] = argv;
  if (isHelpRequest(argv)) {
    ctx.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (command === 'staff') return staffCommand(rest, ctx);
  if (command === 'mail') return mailCommand(rest, ctx);
  if (command === 'webhook') return webhookCommand(rest, ctx);
  ctx.stderr.write(`unknown command "${command}"\n\n${USAGE}`);
  return 2;
}
