// SMTP ingress: thin smtp-server hooks onto the recipient decision, the DATA guard and the queue.
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { type MailPolicy, policyClass } from '#data/contracts/mail-policy.ts';
import type { CheckInput, Checks } from '#mailsystem/checks/types.ts';
import type { Directory, Route, ShadowPlan } from '#mailsystem/config/directory.ts';
import type { LegacyProbe } from '#mailsystem/legacy/probe.ts';
import type { Facts, PolicyTarget } from '#mailsystem/policy/decide.ts';
import { shadowRecords, UNCHECKED } from '#mailsystem/policy/shadow.ts';
import type { Clock, Log } from '#mailsystem/deps.ts';
import type { FlowDecision } from '#mailsystem/queue/flow-control.ts';
import type { AcceptedMessage, RejectedEvent } from '#mailsystem/queue/store.ts';
import { checkData } from './checked-data.ts';
import { DataGuard, type DataVerdict } from './data-guard.ts';
import { MxSmtpServer } from './smtp-server-adapter.ts';
import { receivedHeader } from './received.ts';
import { decideRecipient, routeKey } from './recipients.ts';
import { REPLIES, acceptedText, replyError, type Reply } from './replies.ts';
import { ConnectionLimiter } from './connection-limits.ts';
import { listenSmtp } from './listen.ts';

export interface IngressOptions {
  serverName: string;
  maxMessageBytes: number;
  maxLineLength: number;
  maxRecipients: number;
  /**
   * Unknown recipients one session may try (address harvesting); the next one is answered
   * 421 4.7.0 and the connection closed. 0: no limit. Default DEFAULT_MAX_UNKNOWN_RECIPIENTS.
   */
  maxUnknownRecipients?: number;
  maxConnectionsPerIp: number;
  maxClients: number;
  /** Idle time allowed between bytes, in commands and in DATA alike. */
  socketTimeoutMs: number;
  /** Total time allowed for one DATA transfer, against clients that trickle bytes. */
  dataTimeoutMs: number;
  tls?: { key: Buffer | string; cert: Buffer | string };
  /** Implicit TLS on connect (a submissions-style port) instead of STARTTLS. */
  implicitTls?: boolean;
}

export interface IngressDeps {
  directory: Directory;
  clock: Clock;
  log: Log;
  newId: (now: number) => string;
  /** Resolves once the message and its deliveries are committed to disk. */
  enqueue: (message: AcceptedMessage) => Promise<void>;
  /** Records a refusal for telemetry; never throws into the session. */
  recordRejected: (event: RejectedEvent) => void;
  /** Flow control (queue/flow-control.ts), asked at the end of each DATA: delay the reply, or refuse. Default: accept. */
  flow?: () => FlowDecision;
  /** Told of each DATA reply flow control delays, with the delay (the node's metrics). */
  onFlowDelay?: (ms: number) => void;
  /**
   * Content checks and per-recipient policies (issue 12). Without them the node stores what it accepts as it is,
   * with no filtering at all; with them every message is checked, decided (policy/decide.ts) and stored per copy.
   */
  checks?: Checks;
  /**
   * Asks a legacy system whether an address of a legacy/shadow domain without imported configuration exists
   * (Resolution.verify). Without it such addresses are accepted unchecked (tests with a fake directory).
   */
  legacyProbe?: LegacyProbe;
}

interface Transaction {
  deliveries: Map<string, { recipient: string; route: Route }>;
  /** Each accepted recipient with its targets and effective policy (used when checks are on); relayed ones are not. */
  targets: PolicyTarget[];
  /**
   * The policy class of the first accepted recipient: the others must share it (452 4.5.3 otherwise). Recipients
   * relayed to the old MX as they are (legacy, shadow) are a class of their own: no check acts on them.
   */
  policyClass: string | null;
  /** Shadow recipients, for the dry run. */
  shadow: { recipient: string; plan: ShadowPlan }[];
  /**
   * When MAIL FROM began it: every recipient resolves with the migration modes of this instant, so a domain's switch
   * falls between transactions, never inside one (its recipients would differ in class: a 452 caused by the switch).
   */
  at: number;
}

const newTransaction = (at: number): Transaction => ({ deliveries: new Map(), targets: [], policyClass: null, shadow: [], at });
const RELAY_CLASS = 'relay to the old MX';

export const DEFAULT_MAX_UNKNOWN_RECIPIENTS = 10;

/** Checks never throw by contract; if they did, the dry run records what the new system would then do: 451. */
const failedFacts = (err: unknown): Facts => {
  const reason = err instanceof Error ? err.message : String(err);
  return { spam: { status: 'error', reason }, virus: { status: 'error', reason }, dmarc: { status: 'error', reason } };
};

const ACCEPT_NOW: FlowDecision = { kind: 'accept', delayMs: 0 };

const DATA_REPLY: Record<Exclude<DataVerdict, 'ok'>, Reply> = {
  'bare-newline': REPLIES.bareNewline,
  'line-too-long': REPLIES.lineTooLong,
  'too-big': REPLIES.tooBig,
};

export class Ingress {
  readonly server: MxSmtpServer;
  private readonly opts: IngressOptions;
  private readonly deps: IngressDeps;
  private readonly transactions = new WeakMap<SMTPServerSession, Transaction>();
  /** Unknown recipients tried so far in each session, across its transactions. */
  private readonly unknownRecipients = new WeakMap<SMTPServerSession, number>();
  private readonly maxUnknownRecipients: number;
  private readonly limiter: ConnectionLimiter;
  private readonly committing = new Set<string>();
  private draining = false;
  /** DATA replies flow control delayed, and refused with 451 4.3.1 (also counted as 'queue-full' rejections). */
  readonly flowStats = { delayed: 0, delayedMs: 0, refused: 0 };

  constructor(opts: IngressOptions, deps: IngressDeps) {
    this.opts = opts;
    this.deps = deps;
    this.limiter = new ConnectionLimiter(opts.maxConnectionsPerIp);
    this.maxUnknownRecipients = opts.maxUnknownRecipients ?? DEFAULT_MAX_UNKNOWN_RECIPIENTS;
    this.server = new MxSmtpServer({
      name: opts.serverName,
      banner: 'Tidings MX',
      logger: false,
      disableReverseLookup: true, // never block a greeting on DNS; the IP goes into Received
      disabledCommands: ['AUTH'], // an MX never relays, so there is nothing to log in to
      hideSTARTTLS: !opts.tls,
      hideENHANCEDSTATUSCODES: false,
      hideSize: false,
      size: opts.maxMessageBytes,
      // The recipient cap is ours (onRcptTo), so the refusal is answered and recorded in one place.
      maxRecipients: 0,
      maxClients: opts.maxClients,
      socketTimeout: opts.socketTimeoutMs,
      closeTimeout: 1000,
      maxCommandLength: 4096,
      secure: !!opts.implicitTls,
      ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
      onConnect: (session, cb) => this.onConnect(session, cb),
      onClose: (session) => this.limiter.release(session.id),
      // smtp-server drops commands pipelined after a second DATA when these hooks answer
      // synchronously (a QUIT after two pipelined messages went unanswered), so answer on the
      // next turn of the loop as its own default hooks do.
      onMailFrom: (_address, session, cb) => this.onMailFrom(session, (err) => setImmediate(cb, err)),
      onRcptTo: (address, session, cb) => this.onRcptTo(address, session, (err) => setImmediate(cb, err)),
      onData: (stream, session, cb) => this.onData(stream, session, cb),
      onRefused: ({ reason, ip, detail }) => this.deps.recordRejected({ at: this.deps.clock.now(), reason, detail: { ip, ...detail } }),
    });
    this.server.on('error', (err) => this.deps.log.warn({ err: err.message }, 'smtp connection error'));
  }

  /** Listens on host:port (smtp/listen.ts: with SO_REUSEPORT, for a rolling restart); resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return listenSmtp(this.server.server, { host, port });
  }

  private onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.draining) return cb(replyError(REPLIES.shuttingDown));
    if (!this.limiter.admit(session.id, session.remoteAddress)) {
      this.deps.recordRejected({ at: this.deps.clock.now(), reason: 'per-ip-connection-cap', detail: { ip: session.remoteAddress } });
      return cb(replyError(REPLIES.tooManyConnections));
    }
    cb();
  }

  private onMailFrom(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    if (this.draining) return cb(replyError(REPLIES.shuttingDown));
    this.transactions.set(session, newTransaction(this.deps.clock.now()));
    cb();
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    try {
      const accepted = session.envelope.rcptTo;
      const max = this.opts.maxRecipients;
      if (max > 0 && accepted.length >= max) {
        // A repeated recipient replaces its earlier entry in smtp-server, so it does not count twice.
        const key = address.address.toLowerCase();
        if (!accepted.some((r) => r.address.toLowerCase() === key)) {
          this.deps.recordRejected({
            at: this.deps.clock.now(),
            reason: 'too-many-recipients',
            recipient: address.address,
            detail: { ip: session.remoteAddress, limit: max },
          });
          return cb(replyError(REPLIES.tooManyRecipients));
        }
      }
      const at = this.transactions.get(session)?.at;
      const decision = decideRecipient(this.deps.directory, address.address, this.opts.serverName, at);
      if (!decision.accept) return this.refuseRecipient(decision.reason, decision.reply, address, session, cb);
      if (decision.verify && this.deps.legacyProbe) {
        // Only here does RCPT wait: the legacy system alone knows this address (smtp-server waits for the callback).
        const { host, port } = decision.verify;
        this.deps.legacyProbe.check(host, port, address.address).then(
          (verdict) => {
            if (verdict === 'exists') return this.acceptRecipient(decision, address, session, cb);
            if (verdict === 'unknown') return this.refuseRecipient('unknown-user', REPLIES.unknownUser, address, session, cb);
            // Down, slow or confused: never 550 (the address may well exist), and nothing accepted to bounce later.
            this.deps.recordRejected({
              at: this.deps.clock.now(),
              reason: 'legacy-unavailable',
              recipient: address.address,
              detail: { ip: session.remoteAddress, legacy: `${host}:${port}` },
            });
            cb(replyError(REPLIES.legacyUnavailable));
          },
          (err: unknown) => this.recipientFailed(err, address, session, cb),
        );
        return;
      }
      this.acceptRecipient(decision, address, session, cb);
    } catch (err) {
      this.recipientFailed(err, address, session, cb);
    }
  }

  private recipientFailed(err: unknown, address: SMTPServerAddress, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    this.deps.log.error({ err }, 'recipient lookup failed');
    this.recordStorageFailure(session, { recipient: address.address });
    cb(replyError(REPLIES.storageFailed));
  }

  private refuseRecipient(
    reason: 'unknown-user' | 'not-hosted' | 'bad-address',
    reply: Reply,
    address: SMTPServerAddress,
    session: SMTPServerSession,
    cb: (err?: Error | null) => void,
  ): void {
    if (reason === 'unknown-user' && this.harvesting(session)) {
      const detail = { ip: session.remoteAddress, limit: this.maxUnknownRecipients };
      this.deps.recordRejected({
        at: this.deps.clock.now(),
        reason: 'too-many-unknown-recipients',
        recipient: address.address,
        detail,
      });
      return cb(replyError(REPLIES.tooManyUnknownRecipients));
    }
    this.deps.recordRejected({ at: this.deps.clock.now(), reason, recipient: address.address });
    cb(replyError(reply));
  }

  private acceptRecipient(
    decision: { routes: Route[]; policy: MailPolicy; relay?: boolean; shadow?: ShadowPlan },
    address: SMTPServerAddress,
    session: SMTPServerSession,
    cb: (err?: Error | null) => void,
  ): void {
    try {
      const txn = this.transactions.get(session) ?? newTransaction(this.deps.clock.now());
      this.transactions.set(session, txn);
      if (this.deps.checks && !this.samePolicyClass(txn, decision.relay ? RELAY_CLASS : policyClass(decision.policy))) {
        this.deps.recordRejected({
          at: this.deps.clock.now(),
          reason: 'policy-class',
          recipient: address.address,
          detail: { ip: session.remoteAddress },
        });
        return cb(replyError(REPLIES.otherPolicy));
      }
      if (!decision.relay)
        for (const route of decision.routes) txn.targets.push({ recipient: address.address, route, policy: decision.policy });
      if (decision.shadow) txn.shadow.push({ recipient: address.address, plan: decision.shadow });
      for (const route of decision.routes) {
        const key = routeKey(address.address, route);
        if (!txn.deliveries.has(key)) txn.deliveries.set(key, { recipient: address.address, route });
      }
      cb();
    } catch (err) {
      this.recipientFailed(err, address, session, cb);
    }
  }

  /** Counts one more unknown recipient; true once the session is past its allowance. */
  private harvesting(session: SMTPServerSession): boolean {
    const tried = (this.unknownRecipients.get(session) ?? 0) + 1;
    this.unknownRecipients.set(session, tried);
    return this.maxUnknownRecipients > 0 && tried > this.maxUnknownRecipients;
  }

  /** One reply to DATA must be right for every recipient: only recipients whose rejecting settings agree share it. */
  private samePolicyClass(txn: Transaction, cls: string): boolean {
    if (txn.policyClass === null) {
      txn.policyClass = cls;
      return true;
    }
    return txn.policyClass === cls;
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const guard = new DataGuard({ maxBytes: this.opts.maxMessageBytes, maxLineLength: this.opts.maxLineLength });
    const timer = setTimeout(() => this.abortData(session), this.opts.dataTimeoutMs);
    // A client that hangs up mid-message ends the stream with an error: nothing to store or answer.
    stream.once('error', () => clearTimeout(timer));
    stream.on('data', (chunk: Buffer) => guard.feed(chunk));
    stream.once('end', () => {
      clearTimeout(timer);
      try {
        this.finishData(guard, session, cb);
      } catch (err) {
        this.deps.log.error({ err }, 'finishing DATA failed');
        this.recordStorageFailure(session);
        cb(replyError(REPLIES.storageFailed));
      }
    });
  }

  private finishData(guard: DataGuard, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const verdict = guard.finish();
    if (verdict !== 'ok') {
      this.deps.recordRejected({ at: this.deps.clock.now(), reason: verdict, detail: { ip: session.remoteAddress, bytes: guard.size } });
      return cb(replyError(DATA_REPLY[verdict]));
    }
    const txn = this.transactions.get(session);
    this.transactions.delete(session);
    if (!txn || txn.deliveries.size === 0) {
      this.recordStorageFailure(session);
      return cb(replyError(REPLIES.storageFailed));
    }
    const flow = this.deps.flow?.() ?? ACCEPT_NOW;
    if (flow.kind === 'refuse') {
      this.flowStats.refused++;
      const { depth, oldestWaitingMs } = flow.backlog;
      this.deps.recordRejected({
        at: this.deps.clock.now(),
        reason: 'queue-full',
        detail: { ip: session.remoteAddress, depth, oldestWaitingMs },
      });
      return cb(replyError(REPLIES.queueFull));
    }
    if (flow.delayMs <= 0) return this.store(guard, txn, session, cb);
    this.flowStats.delayed++;
    this.flowStats.delayedMs += flow.delayMs;
    this.deps.onFlowDelay?.(flow.delayMs);
    // Delivery is behind: the reply waits (the client sends its next message that much later). Nothing is stored
    // yet, so a client that hangs up meanwhile, or a shutdown that closes the session, loses nothing acknowledged.
    setTimeout(() => {
      if (!this.server.bySession.has(session.id)) return;
      try {
        this.store(guard, txn, session, cb);
      } catch (err) {
        this.deps.log.error({ err }, 'finishing DATA failed');
        this.recordStorageFailure(session);
        cb(replyError(REPLIES.storageFailed));
      }
    }, flow.delayMs);
  }

  private store(guard: DataGuard, txn: Transaction, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const now = this.deps.clock.now();
    const id = this.deps.newId(now);
    const envelope = session.envelope;
    const received = (at: number): Buffer =>
      receivedHeader({
        helo: session.hostNameAppearsAs,
        clientIp: session.remoteAddress,
        clientHostname: session.clientHostname,
        serverName: this.opts.serverName,
        queueId: id,
        tls: !!session.secure,
        utf8: !!envelope.smtpUtf8,
        recipients: envelope.rcptTo.map((r) => r.address),
        at: new Date(at),
      });
    const base = {
      id,
      envelopeFrom: envelope.mailFrom ? envelope.mailFrom.address : '',
      clientIp: session.remoteAddress,
      helo: session.hostNameAppearsAs || '',
    };
    const input = {
      message: guard.body(),
      envelope: {
        ip: session.remoteAddress,
        helo: session.hostNameAppearsAs || '',
        mailFrom: base.envelopeFrom,
        rcpts: envelope.rcptTo.map((r) => r.address),
        queueId: id,
      },
    };
    const checks = this.deps.checks;
    // Nothing to filter (no checks, or every recipient is relayed to the old MX): stored as received.
    if (!checks || txn.targets.length === 0) return this.storeAsReceived(input, txn, base, received, session, cb);
    // Scanning holds the reply; the session counts as committing, so a shutdown lets it finish.
    this.committing.add(session.id);
    void checkData(checks, input, txn.targets).then((checked) => {
      if (checked.kind === 'refuse') {
        this.committing.delete(session.id);
        if (checked.error) this.deps.log.error({ err: checked.error, queueId: id }, 'content checks failed; answering 451');
        this.deps.recordRejected({
          at: this.deps.clock.now(),
          reason: checked.reason,
          detail: { ip: session.remoteAddress, queueId: id, ...checked.detail },
        });
        return cb(replyError(checked.reply));
      }
      // The client hung up while we scanned: it was never told the message was accepted, so it sends it again.
      if (!this.server.bySession.has(session.id)) {
        this.committing.delete(session.id);
        return;
      }
      const at = this.deps.clock.now();
      const { body, isSpam, deliveries } = checked;
      this.commit({ ...base, receivedAt: at, isSpam, body: Buffer.concat([received(at), body]), deliveries }, session, cb);
    });
  }

  /**
   * Shadow recipients get the checks as a dry run: their verdicts are recorded with the message (policy/shadow.ts),
   * while the message itself goes to the old MX as received, whatever they say; a failing check is a verdict, never a
   * refusal. The reply waits for the checks, as it would in active mode.
   */
  private storeAsReceived(
    input: CheckInput,
    txn: Transaction,
    base: Omit<AcceptedMessage, 'receivedAt' | 'body' | 'deliveries'>,
    received: (at: number) => Buffer,
    session: SMTPServerSession,
    cb: (err?: Error | null, message?: string) => void,
  ): void {
    const deliveries = [...txn.deliveries.values()];
    const stored = (at: number) => ({ ...base, receivedAt: at, body: Buffer.concat([received(at), input.message]), deliveries });
    if (txn.shadow.length === 0) return this.commit(stored(this.deps.clock.now()), session, cb);
    this.committing.add(session.id);
    const checks = this.deps.checks;
    const facts = checks ? checks(input).then((r) => r.facts, failedFacts) : Promise.resolve(UNCHECKED);
    void facts.then((f) => {
      if (!this.server.bySession.has(session.id)) {
        this.committing.delete(session.id); // the client hung up: never told 250, it sends the message again
        return;
      }
      this.commit({ ...stored(this.deps.clock.now()), shadow: shadowRecords(f, txn.shadow, input.message) }, session, cb);
    });
  }

  private commit(message: AcceptedMessage, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const id = message.id;
    this.committing.add(session.id);
    this.deps
      .enqueue(message)
      .then(
        () => cb(null, acceptedText(id)),
        (err: unknown) => {
          this.deps.log.error({ err, queueId: id }, 'queue commit failed; answering 451');
          this.recordStorageFailure(session, { queueId: id });
          cb(replyError(REPLIES.storageFailed));
        },
      )
      .finally(() => this.committing.delete(session.id));
  }

  /** Every 451 "storage" answer is a refusal the event log counts (recording never throws into the session). */
  private recordStorageFailure(session: SMTPServerSession, extra: { recipient?: string; queueId?: string } = {}): void {
    const { recipient, ...detail } = extra;
    this.deps.recordRejected({ at: this.deps.clock.now(), reason: 'storage', recipient, detail: { ip: session.remoteAddress, ...detail } });
  }

  private abortData(session: SMTPServerSession): void {
    const connection = this.server.bySession.get(session.id);
    if (!connection) return;
    this.deps.recordRejected({
      at: this.deps.clock.now(),
      reason: 'data-timeout',
      detail: { ip: session.remoteAddress, limitMs: this.opts.dataTimeoutMs },
    });
    this.server.replyAndClose(connection, REPLIES.dataTimeout);
  }

  /**
   * Graceful stop: no new connections, sessions may finish the transaction they are in until
   * the deadline; idle sessions and, after the deadline, everyone get 421 4.3.2. A session
   * whose message is being committed always gets its 250 or 451 first.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.server.close(() => resolve()));
    const deadline = this.deps.clock.now() + deadlineMs;
    const told = new Map<string, number>(); // session id → when its 421 was sent
    for (;;) {
      const now = this.deps.clock.now();
      const late = now >= deadline;
      for (const connection of this.server.bySession.values()) {
        const session = connection.session;
        if (told.has(session.id) || this.committing.has(session.id)) continue;
        // smtp-server keeps MAIL FROM in the envelope until the reply to DATA, so this covers DATA too.
        const inTransaction = !!session.envelope?.mailFrom;
        if (late || !inTransaction) {
          this.server.replyAndClose(connection, REPLIES.shuttingDown);
          told.set(session.id, now);
        }
      }
      // Clients usually hang up after a 421; give the reply a moment to flush before forcing it.
      const lingering = [...this.server.bySession.values()].filter((c) => !(now - (told.get(c.session.id) ?? now) >= 500));
      if (lingering.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const connection of this.server.bySession.values()) this.server.forceClose(connection);
    await closed;
  }
}
