// `cli mail switch ...`: a domain's scheduled switches (at a time or with a task phase), cancel, and switch now.
import { parseArgs } from 'node:util';
import type { CliContext } from './context.ts';
import type { ServiceContext, Actor } from '../services/context.ts';
import { Invalid, NotFound } from '../domain/errors.ts';
import { reportRefusal } from './refusal.ts';
import { parse, table } from './format.ts';
import { DomainName, MigrationMode } from '#data/contracts/mail-config.ts';
import { ScheduleSwitchInput } from '#data/contracts/mail-switches.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import { findDomain } from '../store/mail.ts';
import { listSwitches } from '../store/mail-switches.ts';
import { cancelSwitch, scheduleSwitch, switchNow } from '../services/mail/switches.ts';

export const SWITCH_HELP = `  mail switch schedule <domain> <legacy|shadow|active> --at TIME    TIME in ISO 8601 with its offset, e.g. 2021-10-13T00:00:00Z
  mail switch schedule <domain> <mode> --task ID --phase TITLE     when that phase of the task's plan starts (and moves with it)
  mail switch list <domain>            pending switches by time, then applied and cancelled ones
  mail switch cancel <domain> <id>     cancel a pending switch
  mail switch now <domain> <mode>      record the mode at once (a rollback) and cancel the domain's pending switches;
                                       nodes take it at their next config sync`;

const USAGE = `usage:\n${SWITCH_HELP}`;

/** Throws on an unknown option or an option without its value. */
const parseSwitchArgs = (args: string[]) =>
  parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { at: { type: 'string' }, task: { type: 'string' }, phase: { type: 'string' } },
  });

export async function switchCommand(argv: string[], ctx: CliContext, services: ServiceContext, actor: Actor): Promise<number> {
  let parsed: ReturnType<typeof parseSwitchArgs>;
  try {
    parsed = parseSwitchArgs(argv);
  } catch (e) {
    ctx.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const [verb, domainArg, third] = parsed.positionals;
  const o = parsed.values;
  try {
    if (!domainArg) throw new Invalid(`name the domain, e.g. \`mail switch ${verb ?? 'list'} example.com\`\n\n${USAGE}`);
    const name = parse(DomainName, domainArg);
    switch (verb) {
      case 'schedule': {
        const input = parse(ScheduleSwitchInput, {
          mode: third,
          at: o.at,
          taskId: o.task === undefined ? undefined : /^\d{1,10}$/.test(o.task) ? Number(o.task) : -1,
          phase: o.phase,
        });
        const s = scheduleSwitch({ ctx: services, actor, name, input });
        const linked = s.task ? ` (when ${taskRef(s.task.id)}'s phase "${s.task.phase}" starts)` : '';
        ctx.stdout.write(`Scheduled switch ${s.id}: ${s.domain} to ${s.mode} at ${s.at}${linked}.\n`);
        return 0;
      }
      case 'list': {
        if (!findDomain(ctx.db, name)) throw new NotFound(`The domain ${name} is not hosted.`);
        table(
          ctx,
          ['ID', 'AT', 'MODE', 'STATE', 'PHASE'],
          listSwitches(ctx.db, name).map((s) => [
            String(s.id),
            s.at,
            s.mode,
            s.state === 'cancelled' ? `cancelled (${s.cancelReason})` : s.state,
            s.task ? `${taskRef(s.task.id)} ${s.task.phase}` : '-',
          ]),
        );
        return 0;
      }
      case 'cancel': {
        if (!third || !/^\d{1,10}$/.test(third)) throw new Invalid('give the switch id, as `mail switch list` shows it');
        cancelSwitch({ ctx: services, actor, name, id: Number(third) });
        ctx.stdout.write(`Cancelled switch ${third} of ${name}.\n`);
        return 0;
      }
      case 'now': {
        const r = switchNow({ ctx: services, actor, name, mode: parse(MigrationMode, third) });
        ctx.stdout.write(`Switched ${r.domain.name} to ${r.domain.mode} now; cancelled ${r.cancelled} pending switch(es).\n`);
        return 0;
      }
      default:
        ctx.stderr.write(`unknown mail switch command "${verb ?? ''}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (e) {
    return reportRefusal(ctx.stderr, e);
  }
}
