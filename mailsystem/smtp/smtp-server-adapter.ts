// The one file that touches smtp-server's internals: smtp-server adjusted for an MX.
// Replies keep the enhanced status code we chose, each session's connection can be found again
// (to end a stalled DATA or to drain on shutdown), MAIL/RCPT are checked on their raw bytes and
// parameters, and the refusals smtp-server answers on its own (early talkers, SIZE= over the
// limit, an idle DATA) are reported. The rest of the ingress uses only the exported surface.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { checkAddressCommand, commandBytes, qualifyBarePostmaster, unquoteLocalPart, type AddressCommand, type CommandBytes, type EnvelopeRefusal } from './envelope-checks.ts';
import { REPLIES, hasEnhancedStatus, type Reply } from './replies.ts';

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
type ParsedAddress = Parameters<SMTPConnection['_rejectInvalidParams']>[0];

/**
 * smtp-server derives the enhanced code from the reply code alone (550 → 5.1.1), which is
 * wrong for e.g. "550 5.7.1 relaying denied". A text that starts with its own code keeps it.
 */
class MxConnection extends SMTPConnection {
  private earlyTalkReported = false;
  /** What each parsed MAIL/RCPT looked like on the wire, for the check right after parsing. */
  private readonly addressCommands = new WeakMap<ParsedAddress, { command: AddressCommand; bytes: CommandBytes }>();

  private get mx(): MxSmtpServer {
    return this._server as unknown as MxSmtpServer;
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    super.send(code, data, typeof data === 'string' && hasEnhancedStatus(data) ? false : context);
  }

  /** smtp-server answers input sent before the greeting with 421 ("You talk too soon"). */
  override _onCommand(command: Buffer, callback?: () => void): void {
    if (!this._ready && !this._upgrading && !this._closing && !this.earlyTalkReported) {
      this.earlyTalkReported = true;
      this.mx.refused({ reason: 'early-talker', ip: this.remoteAddress });
    }
    super._onCommand(command, callback);
  }

  /**
   * smtp-server decodes the command line as UTF-8 here, turning invalid bytes into U+FFFD, so the
   * raw bytes are looked at first. The address leaves in its canonical form: unneeded quotes
   * dropped, a bare RCPT `postmaster` qualified with this MX's name.
   */
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ReturnType<SMTPConnection['_parseAddressCommand']> {
    const parsed = super._parseAddressCommand(rawName, rawCommand);
    if (!parsed) return parsed;
    const command: AddressCommand = rawName.trim().toUpperCase().startsWith('MAIL') ? 'MAIL' : 'RCPT';
    this.addressCommands.set(parsed, { command, bytes: commandBytes(Buffer.isBuffer(rawCommand) ? rawCommand : Buffer.from(rawCommand)) });
    parsed.address = unquoteLocalPart(parsed.address);
    if (command === 'RCPT') parsed.address = qualifyBarePostmaster(parsed.address, this.name);
    return parsed;
  }

  /**
   * smtp-server's one check that runs for MAIL and RCPT alike, right after parsing and before any
   * hook; ours follows its own (duplicate or valueless parameters stay its 501).
   */
  override _rejectInvalidParams(parsed: ParsedAddress, keys: string[], callback: () => void): boolean {
    if (super._rejectInvalidParams(parsed, keys, callback)) return true;
    const facts = this.addressCommands.get(parsed);
    // A RCPT before MAIL is answered 503 by smtp-server, whatever it carries.
    if (!facts || (facts.command === 'RCPT' && !this.session.envelope.mailFrom)) return false;
    const args = parsed.args || {};
    const smtpUtf8 = facts.command === 'MAIL' ? args.SMTPUTF8 === true : !!this.session.envelope.smtpUtf8;
    const refusal = checkAddressCommand({ ...facts, params: Object.keys(args), smtpUtf8 });
    if (!refusal) return false;
    this.mx.refused({ reason: refusal.reason, ip: this.remoteAddress, detail: refusal.detail });
    this.send(refusal.reply.code, `${refusal.reply.status} ${refusal.reply.text}`);
    callback();
    return true;
  }

  /** `MAIL FROM:<…> SIZE=n` over the limit is refused here, before our MAIL hook runs. */
  override _validateMailParams(parsed: Parameters<SMTPConnection['_validateMailParams']>[0]): ParamError | null {
    const error = super._validateMailParams(parsed) as ParamError | null;
    if (error?.code !== 552) return error;
    const declared = Number((parsed.args || {} as Record<string, unknown>).SIZE);
    this.mx.refused({ reason: 'too-big-declared', ip: this.remoteAddress, detail: { declared, limit: this._server.options.size } });
    return { code: REPLIES.tooBig.code, message: `${REPLIES.tooBig.status} ${REPLIES.tooBig.text}`, enhancedCode: null };
  }

  /**
   * The session's own end, whichever socket it ended on: after STARTTLS smtp-server has dropped
   * every listener of the raw socket and listens to the TLS socket instead, so a listener on the
   * socket handed to connect() never fires for an upgraded session.
   */
  override _onClose(): void {
    super._onClose();
    this.mx.bySession.delete(this.id);
  }

  /** The idle timeout while the client owes us message bytes ends the DATA transfer. */
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
  private readonly onRefused: (refusal: Refusal) => void;

  constructor(options: MxSmtpServerOptions) {
    const { onRefused, ...rest } = options;
    super(rest);
    this.onRefused = onRefused ?? (() => {});
  }

  refused(refusal: Refusal): void {
    try {
      this.onRefused(refusal);
    } catch {
      // reporting must never break the session
    }
  }

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
