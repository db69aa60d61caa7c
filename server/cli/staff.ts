// `cli staff ...`: add, list, disable, enable and reset-password for staff accounts, through the same services as the API.
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import type { CliContext } from './context.ts';
import { createChangeCounter } from '../deps.ts';
import { Invalid, NotFound } from '../domain/errors.ts';
import { reportRefusal } from './refusal.ts';
import { AddStaffInput, Password, staffView } from '../domain/staff.ts';
import { allUsers, userByName } from '../store/users.ts';
import { addStaff } from '../services/users/addStaff.ts';
import { resetPassword } from '../services/users/resetPassword.ts';
import { setStaffDisabled } from '../services/users/setStaffDisabled.ts';

export const STAFF_HELP = `  staff add <name> [--admin] [--display-name NAME] [--password-stdin]
                                    create an account; prints a one-time password (one login
                                    within 24 hours, which must set a new password) unless
                                    --password-stdin reads one from standard input
  staff list                        list accounts and whether they can log in
  staff disable <name>              stop an account from logging in; ends its sessions now
  staff enable <name>               allow a disabled account again
  staff reset-password <name> [--password-stdin]
                                    set a new password (a printed one-time one, or read from
                                    stdin); ends its sessions`;

const ACTOR = { userId: null, name: 'cli' } as const;

/** The generated password goes last, alone on its line, so scripts can take the last line. */
function printOneTime(ctx: CliContext, password: string, expiresAt: string): void {
  ctx.stdout.write(`It works for one login before ${expiresAt}, which must then set a new password.\n`);
  ctx.stdout.write(`One-time password (shown once):\n${password}\n`);
}

async function readPassword(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  // One trailing newline is how `echo` and editors end the line; it is not part of the password.
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  const ok = Password.safeParse(password);
  if (!ok.success) throw new Invalid(`password from stdin: ${ok.error.issues[0].message}`);
  return password;
}

function userOrFail(ctx: CliContext, name: string | undefined) {
  if (!name) throw new Invalid('name the account, e.g. `staff disable alice`');
  const user = userByName(ctx.db, name);
  if (!user) throw new NotFound(`no account named "${name}"`);
  return user;
}

/** Throws on an unknown option or an option without its value. */
function parseStaffArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { admin: { type: 'boolean' }, 'display-name': { type: 'string' }, 'password-stdin': { type: 'boolean' } },
  });
}

export async function staffCommand(argv: string[], ctx: CliContext): Promise<number> {
  const services = { db: ctx.db, clock: ctx.clock, changes: createChangeCounter() };
  let parsed: ReturnType<typeof parseStaffArgs>;
  try {
    parsed = parseStaffArgs(argv);
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${STAFF_HELP}\n`);
    return 2;
  }
  const [verb, name, ...extra] = parsed.positionals;
  const opts = parsed.values;
  try {
    if (extra.length) throw new Invalid(`unexpected argument "${extra[0]}"`);
    switch (verb) {
      case 'add': {
        const input = AddStaffInput.safeParse({
          username: name,
          displayName: opts['display-name'],
          role: opts.admin ? 'admin' : 'staff',
          password: opts['password-stdin'] ? await readPassword(ctx.stdin) : undefined,
        });
        if (!input.success) throw new Invalid(input.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
        const { user, generatedPassword, expiresAt } = await addStaff({ ctx: services, actor: ACTOR, input: input.data });
        ctx.stdout.write(`Added ${user.role} "${user.username}" (${user.displayName}).\n`);
        if (generatedPassword) printOneTime(ctx, generatedPassword, expiresAt!);
        return 0;
      }
      case 'list': {
        const rows = allUsers(ctx.db).map(staffView);
        const width = Math.max(8, ...rows.map((u) => u.username.length));
        ctx.stdout.write(`${'USERNAME'.padEnd(width)}  ROLE   STATE     DISPLAY NAME\n`);
        for (const u of rows) {
          const state = u.disabled ? 'disabled' : u.canLogIn ? 'active' : 'no-login';
          ctx.stdout.write(`${u.username.padEnd(width)}  ${u.role.padEnd(5)}  ${state.padEnd(8)}  ${u.displayName}\n`);
        }
        return 0;
      }
      case 'disable':
      case 'enable': {
        const user = userOrFail(ctx, name);
        setStaffDisabled({ ctx: services, actor: ACTOR, userId: user.id, disabled: verb === 'disable' });
        ctx.stdout.write(`${verb === 'disable' ? 'Disabled' : 'Enabled'} "${user.username}".\n`);
        return 0;
      }
      case 'reset-password': {
        const user = userOrFail(ctx, name);
        const password = opts['password-stdin'] ? await readPassword(ctx.stdin) : undefined;
        const { generatedPassword, expiresAt } = await resetPassword({ ctx: services, actor: ACTOR, userId: user.id, password });
        ctx.stdout.write(`New password set for "${user.username}"; their sessions have ended.\n`);
        if (generatedPassword) printOneTime(ctx, generatedPassword, expiresAt!);
        return 0;
      }
      default:
        ctx.stderr.write(`unknown staff command "${verb ?? ''}"\n\n${STAFF_HELP}\n`);
        return 2;
    }
  } catch (e) {
    return reportRefusal(ctx.stderr, e);
  }
}
