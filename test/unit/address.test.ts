// The one address module: splitting at the last @, folding only what is case-insensitive, and the syntax we host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, foldDomain, isDomainName, isHostableAddress, splitAddress } from '#data/address.ts';

test('splitAddress: at the last @, both sides exactly as written', () => {
  assert.deepEqual(splitAddress('Anna.Smith+Tag@Example.COM'), { local: 'Anna.Smith+Tag', domain: 'Example.COM' });
  assert.deepEqual(splitAddress('"a@b"@example.com'), { local: '"a@b"', domain: 'example.com' }, 'a quoted local part may hold an @');
  assert.deepEqual(splitAddress('jürgen@Bücher.Example'), { local: 'jürgen', domain: 'Bücher.Example' }, 'UTF-8 (SMTPUTF8) passes through');
  assert.deepEqual(
    splitAddress('a@example.com.'),
    { local: 'a', domain: 'example.com.' },
    'a trailing dot is syntax for the validator, not the splitter',
  );
  assert.deepEqual(splitAddress(' a@x.test '), { local: ' a', domain: 'x.test ' }, 'no trimming: callers decide');
});

test('splitAddress: null without an @ or with an empty side', () => {
  for (const bad of ['', 'postmaster', '@', '@example.com', 'user@', 'a@b@']) {
    assert.equal(splitAddress(bad), null, JSON.stringify(bad));
  }
});

test('foldDomain: the domain is lower-cased, the local part keeps its spelling', () => {
  assert.equal(foldDomain('Ext.User@Provider.TEST'), 'Ext.User@provider.test');
  assert.equal(foldDomain('"A@B"@X.Test'), '"A@B"@x.test', 'only after the last @');
  assert.equal(foldDomain('Jürgen@BÜCHER.example'), 'Jürgen@bücher.example', 'a U-label folds as Unicode');
  assert.equal(foldDomain('NoAt'), 'NoAt', 'nothing to fold without an @');
  assert.equal(foldDomain('User@'), 'User@');
});

test('canonicalAddress: hosted addresses are trimmed and lower-cased whole', () => {
  assert.equal(canonicalAddress('  Anna.Smith+Tag@Example.COM '), 'anna.smith+tag@example.com');
  assert.equal(canonicalAddress('Jürgen@BÜCHER.example'), 'jürgen@bücher.example');
});

test('isDomainName: LDH labels, at least two, any case; IDNs only as A-labels', () => {
  for (const good of ['example.com', 'Sub.Example.COM', 'xn--bcher-kva.example', 'a-b.c0.test', `${'a'.repeat(63)}.test`]) {
    assert.equal(isDomainName(good), true, good);
  }
  for (const bad of [
    '',
    'localhost',
    'x..test',
    'x.test.',
    '.x.test',
    '-x.test',
    'x-.test',
    'x.123',
    'ex ample.com',
    'x_y.test',
    'bücher.example',
    '[127.0.0.1]',
    `${'a'.repeat(64)}.test`,
    `${'a.'.repeat(127)}test`,
  ]) {
    assert.equal(isDomainName(bad), false, JSON.stringify(bad));
  }
});

test('isHostableAddress: dot-atom local part, LDH domain, at most 254 characters', () => {
  for (const good of [
    'a@x.test',
    'Anna.Smith+Tag@Example.COM',
    "o'brien@x.test",
    'a@xn--bcher-kva.example',
    `${'a'.repeat(64)}@x.test`,
    `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(56)}.test`,
  ]) {
    assert.equal(isHostableAddress(good), true, good);
  }
  for (const bad of [
    '',
    'no-at',
    '@x.test',
    'a@',
    'a b@x.test',
    'a@x',
    'a@-x.test',
    'a..b@x.test',
    '.a@x.test',
    'a.@x.test',
    `${'a'.repeat(65)}@x.test`,
    'a@x_y.test',
    'a@[127.0.0.1]',
    'a@x.test.',
    ' a@x.test',
    '"a b"@x.test',
    '"a@b"@x.test',
    'jürgen@x.test',
    'a@bücher.example',
    `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.test`,
  ]) {
    assert.equal(isHostableAddress(bad), false, JSON.stringify(bad));
  }
});
