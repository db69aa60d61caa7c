// smtp-server, adjusted for an MX: replies keep the enhanced status code we chose, and each
// session's connection can be found again (to end a stalled DATA or to drain on shutdown).
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { hasEnhancedStatus, type Reply } from './replies.ts';

/**
 * smtp-server derives the enhanced code from the reply code alone (550 → 5.1.1), which is
 * wrong for e.g. "550 5.7.1 relaying denied". A text that starts with its own code keeps it.
 */
class MxConnection extends SMTPConnection {
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    super.send(code, data, typeof data === 'string' && hasEnhancedStatus(data) ? false : context);
  }
}

export class MxSmtpServer extends SMTPServer {
  /** Open sessions by session id (which smtp-server sets to the connection id). */
  readonly bySession = new Map<string, SMTPConnection>();

  constructor(options: SMTPServerOptions) {
    super(options);
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new MxConnection(this, socket, socketOptions);
    this.connections.add(connection);
    this.bySession.set(connection.id, connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    socket.once('close', () => this.bySession.delete(connection.id));
    connection.init();
  }

  /** Sends a final reply (a 421 closes the connection). */
  replyAndClose(connection: SMTPConnection, reply: Reply): void {
    connection.send(reply.code, `${reply.status} ${reply.text}`);
    connection.close();
  }
}
