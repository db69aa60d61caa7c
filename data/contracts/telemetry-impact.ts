// The impact report on a task page (issue 10): per deployment phase, the accounting line and p95 delay measured
// during the phase, next to the week before the task opened. Owned by the impact report work; filled in there.
import { z } from 'zod';

/** Placeholder shape until the impact report work defines it. */
export const TaskImpact = z.object({ taskId: z.number().int() });
export type TaskImpact = z.infer<typeof TaskImpact>;
