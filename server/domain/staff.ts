// Rules for staff accounts: what a username and a password must look like, shared by the API and the CLI.
import { z } from 'zod';
import { PASSWORD_MIN, PASSWORD_MAX } from './password.ts';

export const Username = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash, underscore; 1-64, starting with a letter or digit');
export const DisplayName = z.string().trim().min(1).max(100);
export const Password = z.string().min(PASSWORD_MIN, `at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX);
export const StaffRole = z.enum(['admin', 'staff']);

export const AddStaffInput = z.strictObject({
  username: Username,
  displayName: DisplayName.optional(),
  role: StaffRole.default('staff'),
  /** Omitted → a one-time password is generated and returned once. */
  password: Password.optional(),
});
export type AddStaffInput = z.infer<typeof AddStaffInput>;

export const ResetPasswordInput = z.strictObject({ password: Password.optional() });
export type ResetPasswordInput = z.infer<typeof ResetPasswordInput>;

/** What the users API and `staff list` show: never the hash. */
export interface StaffView {
  id: number;
  username: string;
  displayName: string;
  role: 'admin' | 'staff';
  disabled: boolean;
  canLogIn: boolean;
  createdAt: string;
}

export function staffView(u: {
  id: number;
  username: string;
  display_name: string;
  role: 'admin' | 'staff';
  disabled: 0 | 1;
  password_hash: string | null;
  created_at: string;
}): StaffView {
  return {
    id: u.id,
    username: u.username,
    displayName: u.display_name,
    role: u.role,
    disabled: u.disabled === 1,
    canLogIn: u.disabled === 0 && u.password_hash !== null,
    createdAt: u.created_at,
  };
}
