// argon2id password hashes: PHC format, right and wrong passwords, unique salts, garbage rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword, generatePassword, DECOY_HASH, PASSWORD_MIN } from '#server/domain/password.ts';

test('hash and verify', async () => {
  const h = await hashPassword('correct horse battery');
  assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword('correct horse battery', h), true);
  assert.equal(await verifyPassword('correct horse batterY', h), false);
  assert.notEqual(await hashPassword('correct horse battery'), h, 'a fresh salt every time');
});

test('anything that is not an argon2id PHC string never verifies', async () => {
  for (const bad of ['', 'plain', '$argon2i$v=19$m=19456,t=2,p=1$AAAA$BBBB', '$2b$10$abcdefghijklmnopqrstuv']) {
    assert.equal(await verifyPassword('x', bad), false, bad);
  }
  assert.equal(await verifyPassword('', DECOY_HASH), false);
});

test('generated passwords are long and different', () => {
  const a = generatePassword();
  assert.ok(a.length >= PASSWORD_MIN && a.length >= 20);
  assert.notEqual(a, generatePassword());
});
