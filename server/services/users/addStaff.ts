// Creates a staff or admin account; without a given password a one-time one is generated and returned once.
import type { ServiceContext, Actor } from '../context.ts';
import { hashPassword, generatePassword, oneTimeExpiry } from '../../domain/password.ts';
import { staffView, type AddStaffInput, type StaffView } from '../../domain/staff.ts';
import { Conflict } from '../../domain/errors.ts';
import { insertUser, userByName, userById } from '../../store/users.ts';
import { writeAudit } from '../../store/audit.ts';

export async function addStaff({
  ctx,
  actor,
  input,
}: {
  ctx: ServiceContext;
  actor: Actor;
  input: AddStaffInput;
}): Promise<{ user: StaffView; generatedPassword?: string; expiresAt?: string }> {
  const generated = input.password === undefined ? generatePassword() : undefined;
  const hash = await hashPassword(input.password ?? generated!);
  const now = ctx.clock();
  const at = now.toISOString();
  // Only a password that a person chose is permanent; a generated one has been printed somewhere.
  const expiresAt = generated === undefined ? null : oneTimeExpiry(now);
  const user = ctx.db
    .transaction(() => {
      if (userByName(ctx.db, input.username)) throw new Conflict(`The username "${input.username}" is taken.`);
      const id = insertUser(ctx.db, {
        username: input.username,
        displayName: input.displayName ?? input.username,
        role: input.role,
        passwordHash: hash,
        oneTimeExpiresAt: expiresAt,
        createdAt: at,
      });
      const detail = `role ${input.role}${expiresAt ? `; one-time password until ${expiresAt}` : ''}`;
      writeAudit(ctx.db, { at, userId: actor.userId, actor: actor.name, action: 'user.add', target: input.username, detail });
      return staffView(userById(ctx.db, id)!);
    })
    .immediate();
  return generated === undefined ? { user } : { user, generatedPassword: generated, expiresAt: expiresAt! };
}
