// The one file that touches smtp-server's internals: smtp-server adjusted for an MX.
// Replies keep the enhanced status code we chose, each session's connection can be found again
// (to end a stalled DATA or to drain on shutdown), MAIL/RCPT are checked on their raw bytes and
// parameters, and the refusals smtp-server answers on its own (early talkers, SIZE= over the
// limit, an idle DATA) are reported. The rest of the ingress uses only the exported surface;
// what this file relies on inside smtp-server is listed below and checked by
// test/unit/smtp-server-internals.test.ts, so an upgrade that changes it fails by name.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerAddress, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import {
  checkAddressCommand,
  commandBytes,
  qualifyBarePostmaster,
  unquoteLocalPart,
  type AddressCommand,
  type CommandBytes,
  type EnvelopeRefusal,
} from './envelope-checks.ts';
import { REPLIES, hasEnhancedStatus, replyError, type Reply } from './replies.ts';

/** The smtp-server release the lists below were checked against; package.json pins exactly this one. */
export const SMTP_SERVER_VERSION = '3.21.6';

export interface ReliedOnMethod {
  owner: 'SMTPServer' | 'SMTPConnection';
  name: string;
  /** First 16 hex digits of the sha256 of the method's source text (Function.prototype.toString). */
  sha256: string;
  reliedOnBy: string;
}

/**
 * smtp-server's undocumented methods that this file overrides or calls, or whose wiring it depends
 * on. An upgrade that changes one fails test/unit/smtp-server-internals.test.ts naming it: read
 * the new source, adjust this file, then record the new fingerprint here.
 */
export const RELIED_ON_METHODS: readonly ReliedOnMethod[] = [
  {
    owner: 'SMTPServer',
    name: 'connect',
    sha256: '9818ea13a1c36459',
    reliedOnBy: 'MxSmtpServer.connect, a copy that builds an MxConnection',
  },
  { owner: 'SMTPServer', name: '_onError', sha256: '01d6f6dc6b8d6e90', reliedOnBy: 'MxSmtpServer.connect' },
  { owner: 'SMTPServer', name: '_onClientConnect', sha256: '530fef2b2700ba7a', reliedOnBy: 'MxSmtpServer.connect' },
  { owner: 'SMTPConnection', name: 'init', sha256: '1265a7d7ca8f5510', reliedOnBy: 'MxSmtpServer.connect' },
  {
    owner: 'SMTPConnection',
    name: 'send',
    sha256: 'c33568c0111a58b2',
    reliedOnBy: 'MxConnection.send (our enhanced status codes) and replyAndClose',
  },
  { owner: 'SMTPConnection', name: 'close', sha256: '4b80aaabd134a732', reliedOnBy: 'replyAndClose' },
  {
    owner: 'SMTPConnection',
    name: '_createParser',
    sha256: '15ca8c360137e06a',
    reliedOnBy: 'the early-talker report (every command line goes to _onCommand)',
  },
  {
    owner: 'SMTPConnection',
    name: '_onCommand',
    sha256: '41c8a1b7a32aa314',
    reliedOnBy: 'the early-talker report (421 while _ready is false)',
  },
  {
    owner: 'SMTPConnection',
    name: '_parseAddressCommand',
    sha256: '9f368803e4fdff15',
    reliedOnBy: 'the raw-byte MAIL/RCPT checks and canonical addresses',
  },
  {
    owner: 'SMTPConnection',
    name: 'handler_MAIL',
    sha256: 'a40618dd2e16f0fa',
    reliedOnBy: 'the MAIL checks (parse, then _validateMailParams, then onMailFrom, on one parsed object)',
  },
  {
    owner: 'SMTPConnection',
    name: '_validateMailParams',
    sha256: '9f599221f6688cc6',
    reliedOnBy: 'the MAIL checks and the too-big-declared report (552 for SIZE= over the limit)',
  },
  {
    owner: 'SMTPConnection',
    name: 'handler_RCPT',
    sha256: 'ef2acd7214eaa466',
    reliedOnBy: 'the RCPT checks (parse, then onRcptTo, on one parsed object)',
  },
  {
    owner: 'SMTPConnection',
    name: 'handler_DATA',
    sha256: '9eceecf35f56cecd',
    reliedOnBy: 'the data-timeout report (_dataStream, the parser data mode) and Ingress.drain (MAIL FROM kept until the reply)',
  },
  {
    owner: 'SMTPConnection',
    name: '_armTimeout',
    sha256: 'b8bc04964752b32f',
    reliedOnBy: 'the data-timeout report (the idle timer calls _onTimeout)',
  },
  { owner: 'SMTPConnection', name: '_onTimeout', sha256: 'f21be62dd64b1dec', reliedOnBy: 'the data-timeout report (when it answers 421)' },
  {
    owner: 'SMTPConnection',
    name: 'upgrade',
    sha256: '6a3fa8a3ee413745',
    reliedOnBy: 'forceClose (after STARTTLS _socket is the TLS socket)',
  },
];

/** smtp-server's private fields read in this file; the test checks each at the moments it is read. */
export const RELIED_ON_FIELDS = {
  _ready: 'the early-talker report',
  _upgrading: 'the early-talker report',
  _closing: 'the early-talker and data-timeout reports',
  _handlerPending: 'the data-timeout report',
  _dataStream: 'the data-timeout report',
  '_parser._dataMode': 'the data-timeout report',
  _socket: 'forceClose',
} as const;

/** A refusal smtp-server answers before (or without) our hooks, reported for the event log. */
export interface Refusal {
  reason: 'early-talker' | 'too-big-declared' | 'data-timeout' | EnvelopeRefusal['reason'];
  ip: string;
  detail?: Record<string, unknown>;
}

export interface MxSmtpServerOptions extends SMTPServerOptions {
  /** Called once per refusal that smtp-server answers itself; must not throw. */
  onRefused?: (refusal: Refusal) => void;
}

type ParamError = { code: number; message: string; enhancedCode: string | null };
type Hook<K extends 'onRcptTo' | 'onClose'> = NonNullable<SMTPServerOptions[K]>;

/**
 * smtp-server derives the enhanced code from the reply code alone (550 → 5.1.1), which is
 * wrong for e.g. "550 5.7.1 relaying denied". A text that starts with its own code keeps it.
 */
class MxConnection extends SMTPConnection {
  private readonly mx: MxSmtpServer;
  private earlyTalkReported = false;

  constructor(mx: MxSmtpServer, socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null) {
    super(mx, socket, socketOptions);
    this.mx = mx;
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    super.send(code, data, typeof data === 'string' && hasEnhancedStatus(data) ? false : context);
  }

  /** smtp-server answers input sent before the greeting with 421 ("You talk too soon"); no hook sees it. */
  override _onCommand(command: Buffer, callback?: () => void): void {
    if (!this._ready && !this._upgrading && !this._closing && !this.earlyTalkReported) {
      this.earlyTalkReported = true;
      this.mx.refused({ reason: 'early-talker', ip: this.remoteAddress });
    }
    super._onCommand(command, callback);
  }

  /**
   * smtp-server decodes the command line as UTF-8 here, turning invalid bytes into U+FFFD, so the
   * raw bytes are looked at first (the hooks only get the decoded address). The address leaves in
   * its canonical form, before smtp-server keys repeated recipients on it: unneeded quotes
   * dropped, a bare RCPT `postmaster` qualified with this MX's name.
   */
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const parsed = super._parseAddressCommand(rawName, rawCommand);
    if (!parsed) return parsed;
    const command: AddressCommand = rawName.trim().toUpperCase().startsWith('MAIL') ? 'MAIL' : 'RCPT';
    this.mx.commandFacts.set(parsed, { command, bytes: commandBytes(Buffer.isBuffer(rawCommand) ? rawCommand : Buffer.from(rawCommand)) });
    parsed.address = unquoteLocalPart(parsed.address);
    if (command === 'RCPT') parsed.address = qualifyBarePostmaster(parsed.address, this.name);
    return parsed;
  }

  /**
   * Runs before smtp-server's own MAIL parameter checks, which would answer e.g. REQUIRETLS with
   * 530 before the MAIL hook could call it unknown; and `SIZE=n` over the limit is refused by
   * smtp-server here without any hook, so that refusal is reported and given our reply.
   */
  override _validateMailParams(parsed: Parameters<SMTPConnection['_validateMailParams']>[0]): ParamError | null {
    const refusal = this.mx.envelopeRefusal(parsed, this.session);
    if (refusal) return { code: refusal.code, message: `${refusal.status} ${refusal.text}`, enhancedCode: null };
    const error = super._validateMailParams(parsed) as ParamError | null;
    if (error?.code !== 552) return error;
    const declared = Number((parsed.args || ({} as Record<string, unknown>)).SIZE);
    this.mx.refused({ reason: 'too-big-declared', ip: this.remoteAddress, detail: { declared, limit: this.mx.options.size } });
    return { code: REPLIES.tooBig.code, message: `${REPLIES.tooBig.status} ${REPLIES.tooBig.text}`, enhancedCode: null };
  }

  /** The idle timeout while the client owes us message bytes ends the DATA transfer; no hook sees it. */
  override _onTimeout(): void {
    const inData = !!this._dataStream && !!this._parser && this._parser._dataMode;
    if (inData && !this._closing && !this._handlerPending) {
      this.mx.refused({ reason: 'data-timeout', ip: this.remoteAddress, detail: { idle: true } });
    }
    super._onTimeout();
  }
}

export class MxSmtpServer extends SMTPServer {
  /** Open sessions by session id (which smtp-server sets to the connection id). */
  readonly bySession = new Map<string, SMTPConnection>();
  /** What each parsed MAIL/RCPT looked like on the wire, for the checks after parsing. */
  readonly commandFacts = new WeakMap<SMTPServerAddress, { command: AddressCommand; bytes: CommandBytes }>();
  private readonly onRefused: (refusal: Refusal) => void;
  private readonly rcptHook: Hook<'onRcptTo'> | undefined;
  private readonly closeHook: Hook<'onClose'> | undefined;

  constructor(options: MxSmtpServerOptions) {
    // These two hooks are wrapped by the methods below; left in the options, smtp-server would
    // install them over those methods.
    const { onRefused, onRcptTo, onClose, ...rest } = options;
    super(rest);
    this.onRefused = onRefused ?? (() => {});
    this.rcptHook = onRcptTo;
    this.closeHook = onClose;
  }

  refused(refusal: Refusal): void {
    try {
      this.onRefused(refusal);
    } catch {
      // reporting must never break the session
    }
  }

  /** Our MAIL/RCPT checks on a parsed command: the reply to refuse it with (already reported), or null. */
  envelopeRefusal(parsed: SMTPServerAddress, session: SMTPServerSession): Reply | null {
    const facts = this.commandFacts.get(parsed);
    if (!facts) return null;
    const args = parsed.args || {};
    // RFC 6531 §3.4: a RCPT may carry UTF-8 when its transaction's MAIL said SMTPUTF8.
    const smtpUtf8 = facts.command === 'MAIL' ? args.SMTPUTF8 === true : !!session.envelope.smtpUtf8;
    const refusal = checkAddressCommand({ ...facts, params: Object.keys(args), smtpUtf8 });
    if (!refusal) return null;
    this.refused({ reason: refusal.reason, ip: session.remoteAddress, detail: refusal.detail });
    return refusal.reply;
  }

  /** The public RCPT hook, with our checks first (smtp-server has answered a RCPT before MAIL with 503). */
  override onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const refusal = this.envelopeRefusal(address, session);
    if (refusal) return void setImmediate(callback, replyError(refusal));
    if (this.rcptHook) this.rcptHook(address, session, callback);
    else super.onRcptTo(address, session, callback);
  }

  /**
   * The public close hook runs once per session whichever socket it ended on; a listener on the
   * socket handed to connect() would not, as STARTTLS moves the session to a new TLS socket.
   */
  override onClose(session: SMTPServerSession, callback?: (err?: Error | null) => void): void {
    this.bySession.delete(session.id);
    if (this.closeHook) this.closeHook(session, callback ?? (() => {}));
  }

  /** smtp-server's own connect(), building our connection class instead of its own. */
  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new MxConnection(this, socket, socketOptions);
    this.connections.add(connection);
    this.bySession.set(connection.id, connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }

  /** Sends a final reply (a 421 closes the connection). */
  replyAndClose(connection: SMTPConnection, reply: Reply): void {
    connection.send(reply.code, `${reply.status} ${reply.text}`);
    connection.close();
  }

  /**
   * Ends the session now. close() waits up to 5 s for the client to hang up; this destroys the
   * session's topmost socket (the TLS one after STARTTLS), which smtp-server only keeps privately.
   */
  forceClose(connection: SMTPConnection): void {
    connection._socket.destroy();
  }
}
