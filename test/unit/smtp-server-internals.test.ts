// smtp-server's internals that mailsystem/smtp/smtp-server-adapter.ts relies on: an upgrade that changes one fails here, by name.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { REPLIES } from '#mailsystem/smtp/replies.ts';
import { ensureSelfSignedCert } from '#mailsystem/smtp/self-signed.ts';
import {
  MxSmtpServer,
  RELIED_ON_FIELDS,
  RELIED_ON_METHODS,
  SMTP_SERVER_VERSION,
  type Refusal,
} from '#mailsystem/smtp/smtp-server-adapter.ts';
import { RawSmtp } from '../support/smtp-client.ts';

const ADAPTER = 'mailsystem/smtp/smtp-server-adapter.ts';
const ROOT = new URL('../../', import.meta.url);

const changed = (what: string, reliedOnBy: string, how: string): string =>
  `smtp-server internals changed: ${what} (relied on by ${reliedOnBy}) — ${how}; re-check ${ADAPTER}`;

describe('the smtp-server version', () => {
  it('package.json pins exactly the version the adapter was checked against', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(
      pkg.dependencies['smtp-server'],
      SMTP_SERVER_VERSION,
      `package.json must pin smtp-server to exactly ${SMTP_SERVER_VERSION}, the version ${ADAPTER} was checked against; upgrade by re-checking the adapter`,
    );
  });

  it('the installed smtp-server is that version', () => {
    const installed = (
      JSON.parse(readFileSync(createRequire(import.meta.url).resolve('smtp-server/package.json'), 'utf8')) as { version: string }
    ).version;
    assert.equal(
      installed,
      SMTP_SERVER_VERSION,
      `smtp-server ${installed} is installed but ${ADAPTER} was checked against ${SMTP_SERVER_VERSION}`,
    );
  });
});

describe('the methods the adapter overrides, calls or depends on', () => {
  const prototypes = { SMTPServer: SMTPServer.prototype, SMTPConnection: SMTPConnection.prototype } as unknown as Record<
    string,
    Record<string, unknown>
  >;
  for (const method of RELIED_ON_METHODS) {
    const what = `${method.owner}.prototype.${method.name}`;
    it(what, () => {
      const fn = prototypes[method.owner][method.name];
      assert.equal(typeof fn, 'function', changed(what, method.reliedOnBy, 'the method is gone'));
      const sha256 = createHash('sha256').update(Function.prototype.toString.call(fn)).digest('hex').slice(0, 16);
      assert.equal(sha256, method.sha256, changed(what, method.reliedOnBy, 'its source text is not the one recorded'));
    });
  }

  it('no other file of mailsystem/ reads an underscore member or imports smtp-server/lib', () => {
    // The one nodemailer internal lives in its own adapter file, pinned by test/unit/nodemailer-internals.test.ts.
    const adapters = [ADAPTER, 'mailsystem/delivery/nodemailer-lmtp.ts'];
    const offenders = readdirSync(new URL('mailsystem/', ROOT), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !adapters.includes(join('mailsystem', file)))
      .filter((file) => /\._[A-Za-z]|smtp-server\/lib/.test(readFileSync(new URL(`mailsystem/${file}`, ROOT), 'utf8')));
    assert.deepEqual(offenders, [], `smtp-server internals belong in ${ADAPTER} only`);
  });
});

type Field = keyof typeof RELIED_ON_FIELDS;
interface Moment {
  fields: Record<Field, unknown>;
  session: SMTPServerSession;
  connection: SMTPConnection;
  /** What the hook was handed besides the session (the TLS socket, the message stream). */
  handed?: unknown;
  /** The transaction's MAIL FROM at that moment. */
  mailFrom?: unknown;
}

/** A field read by its dotted path, as the adapter reads it, undefined where the path breaks. */
const read = (target: object, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((o, key) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined), target);

/** Every listed field, read now. */
const snapshot = (connection: object): Record<Field, unknown> =>
  Object.fromEntries(Object.keys(RELIED_ON_FIELDS).map((field) => [field, read(connection, field)])) as Record<Field, unknown>;

const show = (value: unknown): string =>
  value instanceof tls.TLSSocket
    ? 'a TLS socket'
    : value instanceof net.Socket
      ? 'a plain socket'
      : value !== null && typeof value === 'object'
        ? `a ${value.constructor.name}`
        : String(value);

describe('the private fields the adapter reads, on live sessions', () => {
  const certDir = mkdtempSync(join(tmpdir(), 'tidings-internals-'));
  const checked = new Set<Field>();
  const waiting = new Map<string, (moment: Moment) => void>();
  const refusalWaiters = new Map<Refusal['reason'], (refusal: Refusal) => void>();
  let server: MxSmtpServer;
  let port = 0;

  /** Settles with the registered event, or fails naming it: a hook an upgrade stopped calling must not hang the suite. */
  function within<T>(what: string, register: (resolve: (value: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`smtp-server internals changed: never reached ${what}; re-check ${ADAPTER}`)),
        10_000,
      );
      register((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }
  /** The next time the server passes the named point (registered before the client acts). */
  const next = (name: string): Promise<Moment> => within(name, (resolve) => waiting.set(name, resolve));
  const nextRefusal = (reason: Refusal['reason']): Promise<Refusal> =>
    within(`the ${reason} report`, (resolve) => refusalWaiters.set(reason, resolve));

  /** Resolves the wait for this point; after onClose the adapter no longer knows the connection. */
  function reached(name: string, session: SMTPServerSession, handed?: unknown): void {
    const resolve = waiting.get(name);
    if (!resolve) return;
    waiting.delete(name);
    const connection = server.bySession.get(session.id);
    const fields = connection ? snapshot(connection) : ({} as Record<Field, unknown>);
    resolve({ fields, session, connection: connection!, handed, mailFrom: session.envelope?.mailFrom });
  }

  function expectField(
    fields: Record<Field, unknown>,
    field: Field,
    when: string,
    expected: string,
    ok: (value: unknown) => boolean,
  ): void {
    checked.add(field);
    const value = fields[field];
    assert.ok(
      ok(value),
      changed(`SMTPConnection#${field}`, RELIED_ON_FIELDS[field], `${when}: expected ${expected}, found ${show(value)}`),
    );
  }

  async function greeted(): Promise<RawSmtp> {
    const c = await RawSmtp.connect(port);
    assert.match((await c.read())!, /^220 /);
    assert.match((await c.cmd('EHLO client.test'))!, /^250[ -]/);
    return c;
  }

  function startTls(c: RawSmtp): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: c.detach(), rejectUnauthorized: false, servername: 'mx.test' }, () => resolve(RawSmtp.over(s)));
      s.once('error', reject);
    });
  }

  before(async () => {
    const cert = ensureSelfSignedCert(certDir, 'mx.test');
    server = new MxSmtpServer({
      name: 'mx.test',
      logger: false,
      disableReverseLookup: true,
      disabledCommands: ['AUTH'],
      hideENHANCEDSTATUSCODES: false,
      size: 1000,
      socketTimeout: 2000,
      closeTimeout: 1000,
      key: cert.key,
      cert: cert.cert,
      onRefused: (refusal) => {
        refusalWaiters.get(refusal.reason)?.(refusal);
        refusalWaiters.delete(refusal.reason);
      },
      onConnect: (session, cb) => {
        reached('onConnect', session);
        cb();
      },
      onMailFrom: (_address, session, cb) => {
        reached('onMailFrom', session);
        setImmediate(cb);
      },
      onSecure: (socket, session, cb) => {
        reached('onSecure', session, socket);
        cb();
      },
      onData: (stream, session, cb) => {
        stream.once('data', () => reached('the first message bytes', session, stream));
        stream.on('end', () => {
          reached('the end of the message', session, stream);
          cb(null, 'ok');
        });
      },
      onClose: (session) => reached('onClose', session),
    });
    port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.server.address() as net.AddressInfo).port)),
    );
  });

  after(async () => {
    await new Promise<void>((resolve) => server.server.close(() => resolve()));
    rmSync(certDir, { recursive: true, force: true });
  });

  it('before the greeting: not ready, not upgrading, not closing, no message stream, the plain socket', async () => {
    const connected = next('onConnect');
    const c = await RawSmtp.connect(port);
    const m = await connected;
    const when = 'in onConnect, before the greeting';
    expectField(m.fields, '_ready', when, 'false', (v) => v === false);
    expectField(m.fields, '_upgrading', when, 'false', (v) => v === false);
    expectField(m.fields, '_closing', when, 'false', (v) => v === false);
    expectField(m.fields, '_handlerPending', when, 'false', (v) => v === false);
    expectField(m.fields, '_dataStream', when, 'false', (v) => v === false);
    expectField(m.fields, '_parser._dataMode', when, 'false', (v) => v === false);
    expectField(m.fields, '_socket', when, 'a plain socket', (v) => v instanceof net.Socket && !(v instanceof tls.TLSSocket));
    assert.ok(
      server.connections.has(m.connection),
      changed('SMTPServer#connections', 'MxSmtpServer.connect', 'the connection is not in the set'),
    );
    c.close();
  });

  it('in a command hook: ready, with a handler pending', async () => {
    const c = await greeted();
    const inHook = next('onMailFrom');
    c.write('MAIL FROM:<s@remote.test>\r\n');
    const m = await inHook;
    expectField(m.fields, '_ready', 'in onMailFrom', 'true', (v) => v === true);
    expectField(m.fields, '_handlerPending', 'in onMailFrom', 'true', (v) => v === true);
    assert.match((await c.read())!, /^250 /);
    c.close();
  });

  it('STARTTLS: upgrading until the handshake, then _socket is the TLS socket the session speaks on', async () => {
    const connected = next('onConnect');
    const c = await greeted();
    const { connection } = await connected;
    assert.match((await c.cmd('STARTTLS'))!, /^220 /);
    expectField(snapshot(connection), '_upgrading', 'after the 220 to STARTTLS, before the handshake', 'true', (v) => v === true);
    const secured = next('onSecure');
    const s = await startTls(c);
    const m = await secured;
    expectField(m.fields, '_upgrading', 'in onSecure', 'false', (v) => v === false);
    expectField(m.fields, '_socket', 'in onSecure', 'the TLS socket onSecure got', (v) => v instanceof tls.TLSSocket && v === m.handed);

    // forceClose ends the session now, on its TLS socket, and the onClose hook forgets it.
    const closed = next('onClose');
    server.forceClose(m.connection);
    assert.equal(await s.read(), null, 'the client sees the connection end');
    await closed;
    assert.equal(server.bySession.has(m.session.id), false, 'the onClose hook forgot the session');
  });

  it('DATA: stream and data mode while the client owes bytes; data mode off, stream and MAIL FROM kept until the reply', async () => {
    const c = await greeted();
    assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    assert.match((await c.cmd('RCPT TO:<r@example.test>'))!, /^250 /);
    assert.match((await c.cmd('DATA'))!, /^354 /);
    const sending = next('the first message bytes');
    c.write('Subject: x\r\n');
    const m = await sending;
    const when = 'at the first message bytes';
    expectField(m.fields, '_dataStream', when, 'the stream onData got', (v) => v === m.handed);
    expectField(m.fields, '_parser._dataMode', when, 'true', (v) => v === true);
    expectField(m.fields, '_handlerPending', when, 'false', (v) => v === false);
    expectField(m.fields, '_closing', when, 'false', (v) => v === false);
    const ended = next('the end of the message');
    c.write('\r\nbody\r\n.\r\n');
    const e = await ended;
    expectField(e.fields, '_parser._dataMode', 'at the end of the message', 'false', (v) => v === false);
    expectField(e.fields, '_dataStream', 'at the end of the message', 'the stream onData got', (v) => v === e.handed);
    assert.ok(
      e.mailFrom,
      changed('SMTPConnection.prototype.handler_DATA', 'Ingress.drain', 'MAIL FROM left the envelope before the reply to DATA'),
    );
    assert.match((await c.read())!, /^250 /);

    // replyAndClose: the reply goes out and the connection is closing.
    c.write('NOOP\r\n');
    assert.match((await c.read())!, /^250 /);
    server.replyAndClose(e.connection, REPLIES.shuttingDown);
    expectField(snapshot(e.connection), '_closing', 'after replyAndClose', 'true', (v) => v === true);
    assert.match((await c.read())!, /^421 4\.3\.2 /);
    c.close();
  });

  it('the overrides are still reached: early talker, SIZE= and REQUIRETLS on MAIL, RCPT bytes, an idle DATA', async () => {
    const early = nextRefusal('early-talker');
    const talker = await RawSmtp.connect(port);
    talker.write('EHLO early.test\r\n');
    assert.match((await talker.read())!, /^421 /);
    await early;
    talker.close();

    const c = await greeted();
    const tooBig = nextRefusal('too-big-declared');
    assert.match(
      (await c.cmd('MAIL FROM:<s@remote.test> SIZE=1001'))!,
      /^552 5\.3\.4 /,
      changed('SMTPConnection.prototype.send', 'MxConnection.send', 'our enhanced code was not kept'),
    );
    assert.deepEqual((await tooBig).detail, { declared: 1001, limit: 1000 });
    assert.match(
      (await c.cmd('MAIL FROM:<s@remote.test> REQUIRETLS'))!,
      /^555 5\.5\.4 /,
      changed('SMTPConnection.prototype._validateMailParams', 'the MAIL checks', 'ours no longer run first'),
    );
    assert.match((await c.cmd('MAIL FROM:<s@remote.test>'))!, /^250 /);
    const nonAscii = nextRefusal('non-ascii-address');
    c.write(Buffer.concat([Buffer.from('RCPT TO:<j'), Buffer.from([0xc3, 0xb6]), Buffer.from('rg@example.test>\r\n')]));
    assert.match(
      (await c.read())!,
      /^553 5\.6\.7 /,
      changed('SMTPConnection.prototype._parseAddressCommand', 'the raw-byte RCPT check', 'it did not run'),
    );
    await nonAscii;
    assert.match((await c.cmd('RCPT TO:<r@example.test>'))!, /^250 /);
    assert.match((await c.cmd('DATA'))!, /^354 /);
    const idle = nextRefusal('data-timeout');
    c.write('Subject: stalls\r\n');
    assert.match((await c.read(10_000))!, /^421 /);
    assert.deepEqual((await idle).detail, { idle: true });
    c.close();
  });

  it('the adapter overrides only what it lists, besides the public hooks', async () => {
    const connected = next('onConnect');
    const c = await RawSmtp.connect(port);
    const { connection } = await connected;
    c.close();
    const listed = (owner: string) => new Set(RELIED_ON_METHODS.filter((m) => m.owner === owner).map((m) => m.name));
    const publicHooks = new Set(['onConnect', 'onSecure', 'onAuth', 'onMailFrom', 'onRcptTo', 'onData', 'onClose']);
    const overrides = (ours: object, theirs: object) =>
      Object.getOwnPropertyNames(ours).filter((name) => name !== 'constructor' && name in theirs);
    assert.deepEqual(
      overrides(Object.getPrototypeOf(connection), SMTPConnection.prototype).filter((n) => !listed('SMTPConnection').has(n)),
      [],
      `an SMTPConnection method is overridden in ${ADAPTER} but missing from RELIED_ON_METHODS`,
    );
    assert.deepEqual(
      overrides(MxSmtpServer.prototype, SMTPServer.prototype).filter((n) => !listed('SMTPServer').has(n) && !publicHooks.has(n)),
      [],
      `an SMTPServer method is overridden in ${ADAPTER} but missing from RELIED_ON_METHODS`,
    );
  });

  it('every field the adapter lists was checked above', () => {
    assert.deepEqual(
      Object.keys(RELIED_ON_FIELDS).filter((f) => !checked.has(f as Field)),
      [],
    );
  });
});
