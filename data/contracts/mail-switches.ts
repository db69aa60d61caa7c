// Scheduled switches of a domain's migration mode (issue 13): what staff send and what the API answers.
import { z } from 'zod';
import { MigrationMode } from './mail-config.ts';
import { InstantInput } from './tasks.ts';

/** A mode in words, as staff pages and the automatic task comment say it. */
export const MODE_WORDS: Record<MigrationMode, string> = {
  legacy: 'legacy (the old system delivers)',
  shadow: 'shadow (parallel operation)',
  active: 'active (the new system delivers)',
};

export const SWITCH_STATES = ['pending', 'applied', 'cancelled'] as const;
export type SwitchState = (typeof SWITCH_STATES)[number];
export const CANCEL_REASONS = ['staff', 'switch-now', 'phase-removed', 'no-legacy-host'] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** A switch at a time (`at`), or with a phase of a task's deployment plan (`taskId` and the phase's title). */
export const ScheduleSwitchInput = z
  .strictObject({
    mode: MigrationMode,
    at: InstantInput.optional(),
    taskId: z.int().min(1).max(2_147_483_647).optional(),
    phase: z.string().trim().min(1).max(200).optional(),
  })
  .superRefine((v, ctx) => {
    const linked = v.taskId !== undefined || v.phase !== undefined;
    if (v.at === undefined && !linked) ctx.addIssue({ code: 'custom', path: ['at'], message: 'give a time, or a taskId and phase' });
    if (v.at !== undefined && linked) ctx.addIssue({ code: 'custom', path: ['at'], message: 'give a time or a phase, not both' });
    if (linked && v.taskId === undefined) ctx.addIssue({ code: 'custom', path: ['taskId'], message: 'the task whose phase it follows' });
    if (linked && v.phase === undefined) ctx.addIssue({ code: 'custom', path: ['phase'], message: "the phase's title" });
  });
export type ScheduleSwitchInput = z.output<typeof ScheduleSwitchInput>;

export const SwitchNowInput = z.strictObject({ mode: MigrationMode });

export const DomainSwitch = z.object({
  id: z.int(),
  domain: z.string(),
  mode: MigrationMode,
  /** The effective time (ISO 8601, UTC). */
  at: z.string(),
  /** The phase it follows, if any: the switch moves with the phase's start. */
  task: z.object({ id: z.int(), phase: z.string() }).nullable(),
  state: z.enum(SWITCH_STATES),
  createdBy: z.string(),
  createdAt: z.string(),
  appliedAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
  cancelReason: z.enum(CANCEL_REASONS).nullable(),
});
export type DomainSwitch = z.infer<typeof DomainSwitch>;
