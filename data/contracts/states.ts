// The four service states and the seed's legend texts, word for word.
import { z } from 'zod';

export const SERVICE_STATES = ['operational', 'announcement', 'issues', 'unknown'] as const;
export const ServiceState = z.enum(SERVICE_STATES);
export type ServiceState = z.infer<typeof ServiceState>;

export const STATE_LEGEND: Record<ServiceState, string> = {
  operational: 'normal work for all services',
  announcement: 'normal work for all services with upcoming tasks / announcements',
  issues: 'active issues or failures',
  unknown: 'service status unknown or not updated yet',
};

/** Column tooltips of the task list, as the seed words them. */
export const COLUMN_HELP = {
  type: 'The type of the task.',
  category: 'The category of the task.',
  summary: 'A short summary of the task.',
  status: 'The status of the task.',
  lastEdited: 'The date when the task was last edited.',
  progress: 'The progress of the task in percent.',
} as const;
