// Password hashing with argon2id from node:crypto, stored as a PHC string so parameters can change later.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';

// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
const PARAMS = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;

function derive(
  password: string,
  salt: Buffer,
  p: { memory: number; passes: number; parallelism: number; tagLength: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2('argon2id', { message: password, nonce: salt, ...p }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `$argon2id$v=19$m=${PARAMS.memory},t=${PARAMS.passes},p=${PARAMS.parallelism}$${b64(salt)}$${b64(key)}`;
}

/** False for a wrong password and for anything that is not an argon2id PHC string. */
export async function verifyPassword(password: string, phc: string): Promise<boolean> {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!m) return false;
  const expected = Buffer.from(m[5], 'base64');
  const key = await derive(password, Buffer.from(m[4], 'base64'), {
    memory: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
    tagLength: expected.length,
  });
  return timingSafeEqual(key, expected);
}

/** A hash of a password nobody knows: verified against when the account does not exist, so timing does not tell. */
export const DECOY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$3q2+7wAAAAAAAAAAAAAAAA$0qpy3zJ2mm8lTg2Srk6dJWyhg6S4Lq3QJtq1uH2YVdE';

/** A one-time password for `staff add`/`reset-password`: 120 bits, no look-alike ambiguity worries in base64url. */
export function generatePassword(): string {
  return randomBytes(15).toString('base64url');
}

/** A generated password logs in once, and only this long after it was issued; then its holder must choose their own. */
export const ONE_TIME_PASSWORD_TTL_MS = 24 * 60 * 60_000;

/** When a one-time password issued at `issuedAt` stops working if nobody used it. */
export function oneTimeExpiry(issuedAt: Date): string {
  return new Date(issuedAt.getTime() + ONE_TIME_PASSWORD_TTL_MS).toISOString();
}

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 1024;
