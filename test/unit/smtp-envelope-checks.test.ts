// MAIL/RCPT checks on raw bytes and parameters, and the canonical address form (issue 8, item 4).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkAddressCommand, commandBytes, qualifyBarePostmaster, unquoteLocalPart } from '#mailsystem/smtp/envelope-checks.ts';

describe('commandBytes', () => {
  it('tells ASCII, valid UTF-8 and invalid bytes apart', () => {
    assert.equal(commandBytes(Buffer.from('MAIL FROM:<a@b.test>')), 'ascii');
    assert.equal(commandBytes(Buffer.from('MAIL FROM:<jörg@b.test>', 'utf8')), 'utf8');
    assert.equal(commandBytes(Buffer.from('MAIL FROM:<jörg@b.test>', 'latin1')), 'invalid-utf8');
    assert.equal(commandBytes(Buffer.from([0x61, 0xed, 0xa0, 0x80])), 'invalid-utf8', 'an encoded surrogate is not UTF-8');
  });
});

describe('checkAddressCommand', () => {
  const mail = { command: 'MAIL' as const, bytes: 'ascii' as const, params: [], smtpUtf8: false };
  it('accepts the parameters of the extensions we advertise', () => {
    assert.equal(checkAddressCommand({ ...mail, params: ['SIZE', 'BODY', 'SMTPUTF8'] }), null);
  });
  it('refuses anything else with 555 5.5.4, DSN parameters included', () => {
    for (const [command, param] of [
      ['MAIL', 'FOO'],
      ['MAIL', 'RET'],
      ['MAIL', 'ENVID'],
      ['RCPT', 'NOTIFY'],
      ['RCPT', 'ORCPT'],
      ['RCPT', 'SIZE'],
    ] as const) {
      const r = checkAddressCommand({ ...mail, command, params: [param] });
      assert.ok(r, `${command} ${param}`);
      assert.equal(r.reason, 'unknown-parameter');
      assert.equal(`${r.reply.code} ${r.reply.status}`, '555 5.5.4');
    }
  });
  it('refuses 8-bit addresses without SMTPUTF8, and invalid UTF-8 always, with 553 5.6.7', () => {
    assert.equal(checkAddressCommand({ ...mail, bytes: 'utf8' })?.reason, 'non-ascii-address');
    assert.equal(checkAddressCommand({ ...mail, bytes: 'utf8', smtpUtf8: true }), null);
    const bad = checkAddressCommand({ ...mail, bytes: 'invalid-utf8', smtpUtf8: true });
    assert.ok(bad);
    assert.equal(bad.reason, 'invalid-utf8-address');
    assert.equal(`${bad.reply.code} ${bad.reply.status}`, '553 5.6.7');
  });
});

describe('canonical address form', () => {
  it('drops quotes a local part does not need, quoted-pairs included', () => {
    assert.equal(unquoteLocalPart('"box1"@example.test'), 'box1@example.test');
    assert.equal(unquoteLocalPart('"first.last+tag"@example.test'), 'first.last+tag@example.test');
    assert.equal(unquoteLocalPart('"b\\ox1"@example.test'), 'box1@example.test');
    assert.equal(unquoteLocalPart('"jürgen"@example.test'), 'jürgen@example.test');
  });
  it('keeps quotes a local part needs, and leaves unquoted ones alone', () => {
    for (const a of [
      '"a b"@example.test',
      '"a,b"@example.test',
      '".box"@example.test',
      '"a..b"@example.test',
      '""@example.test',
      '"a\\"b"@example.test',
      'box1@example.test',
      '',
    ]) {
      assert.equal(unquoteLocalPart(a), a);
    }
  });
  it('qualifies the bare postmaster with the MX name, any case', () => {
    assert.equal(qualifyBarePostmaster('PostMaster', 'MX.example.net'), 'postmaster@mx.example.net');
    assert.equal(qualifyBarePostmaster('postmaster@example.test', 'mx.example.net'), 'postmaster@example.test');
  });
});
