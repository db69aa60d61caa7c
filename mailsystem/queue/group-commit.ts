// Group commit: every write submitted while the event loop is busy shares one transaction (one fsync).
import { close, fsync, open } from 'node:fs';
import type { DB } from '#data/db.ts';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitStats {
  batches: number;
  items: number;
  /** fsyncs of the WAL file run by the committer itself (synchronous=NORMAL); 0 when SQLite syncs each commit (FULL). */
  walSyncs: number;
}

/** Makes everything committed so far durable; resolves once it is on disk. */
export type WalSync = () => Promise<void>;

export interface GroupCommitOptions {
  /**
   * How commits become durable before their promises resolve. Default: read from the connection. With
   * synchronous=FULL SQLite fsyncs the WAL inside COMMIT (on the event loop), so nothing more is needed; with
   * synchronous=NORMAL in WAL mode COMMIT only writes the WAL, and the committer fsyncs the WAL file on libuv's pool
   * before it resolves anything (walFileSync). The guarantee is the same (no promise resolves before its commit is
   * on disk), but the event loop no longer waits for the disk, and one fsync covers every commit made before it
   * started. Pass null to resolve right after COMMIT (tests of other things, in-memory databases).
   */
  walSync?: WalSync | null;
}

/**
 * fsyncs `<db>-wal` on libuv's thread pool. SQLite keeps that file (the same inode) while any connection is open,
 * resetting and truncating it in place, and an fsync flushes the inode's pages whichever descriptor wrote them.
 */
export function walFileSync(db: DB): WalSync {
  const path = `${db.name}-wal`;
  let fd: number | null = null;
  const openFd = (): Promise<number> =>
    fd !== null
      ? Promise.resolve(fd)
      : new Promise((resolve, reject) =>
          open(path, 'r', (err, opened) => {
            if (err) return reject(err);
            fd = opened;
            resolve(opened);
          }),
        );
  const sync = async (): Promise<void> => {
    const handle = await openFd();
    await new Promise<void>((resolve, reject) => fsync(handle, (err) => (err ? reject(err) : resolve())));
  };
  sync.close = (): void => {
    if (fd !== null) close(fd, () => {});
    fd = null;
  };
  return sync;
}

const noop = (): void => {};

function defaultWalSync(db: DB): WalSync | null {
  if (db.memory) return null;
  const walMode = db.pragma('journal_mode', { simple: true }) === 'wal';
  const synchronous = db.pragma('synchronous', { simple: true }) as number;
  // FULL (2) and EXTRA (3) fsync the WAL in COMMIT; NORMAL (1) leaves it to us; OFF (0) is never durable.
  if (walMode && synchronous === 1) return walFileSync(db);
  if (synchronous === 0) throw new Error('the queue database must not run with synchronous=OFF');
  return null;
}

/**
 * better-sqlite3 commits synchronously, so "a commit in flight" blocks the loop; the sockets
 * read meanwhile submit into the next batch, which runs on the following setImmediate. Each
 * item runs in its own savepoint: one bad item fails alone, a failed COMMIT fails the batch.
 * A promise resolves only once its commit is on disk: after COMMIT returned with synchronous=FULL,
 * or after the WAL fsync that started after it with synchronous=NORMAL (GroupCommitOptions.walSync).
 */
export class GroupCommitter {
  readonly stats: GroupCommitStats = { batches: 0, items: 0, walSyncs: 0 };
  private readonly db: DB;
  private pending: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private readonly walSync: WalSync | null;
  /** Resolutions of committed batches that wait for the next WAL fsync to start. */
  private unsynced: (() => void)[] = [];
  private unsyncedFailures: ((err: unknown) => void)[] = [];
  private syncing: Promise<void> | null = null;
  /** Callbacks registered (afterCommit) by the work running now; null outside any work. */
  private itemHooks: (() => void)[] | null = null;

  // The transaction statements, prepared once: better-sqlite3's db.transaction(fn) builds four
  // wrapper functions per call, which per item and per batch showed up in the ingress profile.
  private readonly sql;

  constructor(db: DB, opts: GroupCommitOptions = {}) {
    this.db = db;
    this.walSync = opts.walSync === undefined ? defaultWalSync(db) : opts.walSync;
    this.sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT group_commit_item'),
      release: db.prepare('RELEASE group_commit_item'),
      rollbackTo: db.prepare('ROLLBACK TO group_commit_item'),
    };
  }

  /**
   * Runs fn once the work that is running now has committed; never when it is rolled back (its savepoint or the whole
   * batch). Outside any work it runs at once. For observers that must count only what is on disk (metrics).
   */
  afterCommit(fn: () => void): void {
    if (this.itemHooks) this.itemHooks.push(fn);
    else fn();
  }

  private runItem<T>(work: () => T): { value: T; hooks: (() => void)[] } {
    const hooks: (() => void)[] = [];
    this.itemHooks = hooks;
    try {
      return { value: work(), hooks };
    } finally {
      this.itemHooks = null;
    }
  }

  submit<T>(work: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('queue is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Runs one piece of work in its own transaction and commits it now, synchronously, ahead of the
   * pending batch. For writes whose loss costs more than an fsync: a remote server's 250 not yet
   * recorded is redelivered after a crash, so that window must not include a loop turn and a batch.
   * With synchronous=NORMAL the commit is in the WAL when this returns (a killed process loses nothing) and on disk
   * after the WAL fsync it starts; only a power cut in between can cost a duplicate, as with any remote 250.
   */
  commitNow<T>(work: () => T): T {
    if (this.closed) throw new Error('queue is closed');
    const { db, sql } = this;
    sql.begin.run();
    let done: { value: T; hooks: (() => void)[] };
    try {
      done = this.runItem(work);
      sql.commit.run();
    } catch (err) {
      if (db.inTransaction) sql.rollback.run();
      throw err;
    }
    this.stats.batches++;
    this.stats.items++;
    for (const hook of done.hooks) hook();
    if (this.walSync) this.afterSync(noop, noop);
    return done.value;
  }

  /** Commits what is pending now and waits until it is on disk; later submissions are refused. */
  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    while (this.syncing || this.unsynced.length > 0) await (this.syncing ?? this.startSync());
    (this.walSync as { close?: () => void } | null)?.close?.();
  }

  /** Resolves once every commit made before the call is on disk. */
  durable(): Promise<void> {
    if (!this.walSync) return Promise.resolve();
    return new Promise((resolve, reject) => this.afterSync(resolve, reject));
  }

  private afterSync(resolve: () => void, reject: (err: unknown) => void): void {
    this.unsynced.push(resolve);
    this.unsyncedFailures.push(reject);
    if (!this.syncing) void this.startSync();
  }

  /**
   * One fsync at a time: the commits made while one runs wait for the next, which starts as soon as it returns, so a
   * burst of batches costs two fsyncs, not one each.
   */
  private startSync(): Promise<void> {
    const sync = this.walSync;
    const resolves = this.unsynced;
    const rejects = this.unsyncedFailures;
    this.unsynced = [];
    this.unsyncedFailures = [];
    if (!sync || resolves.length === 0) return Promise.resolve();
    this.stats.walSyncs++;
    const run = sync().then(
      () => {
        for (const r of resolves) r();
      },
      (err: unknown) => {
        // The commits are in the WAL but perhaps not on disk: nobody is told they are. A sender gets 451 and retries
        // (at least once); the worker's lease lapses and it tries again.
        for (const r of rejects) r(err);
      },
    );
    this.syncing = run.finally(() => {
      this.syncing = null;
      if (this.unsynced.length > 0) void this.startSync();
    });
    return this.syncing;
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const results: { ok: boolean; value: unknown }[] = [];
    const hooks: (() => void)[] = [];
    const { db, sql } = this;
    try {
      sql.begin.run();
      try {
        for (const item of batch) {
          sql.savepoint.run();
          try {
            const done = this.runItem(item.work);
            sql.release.run();
            results.push({ ok: true, value: done.value });
            hooks.push(...done.hooks);
          } catch (err) {
            // SQLite rolls the whole transaction back on some errors (disk full, I/O): then the
            // rest must not run in autocommit mode, so the batch fails as a whole.
            if (!db.inTransaction) throw err;
            sql.rollbackTo.run();
            sql.release.run();
            results.push({ ok: false, value: err });
          }
        }
        sql.commit.run();
      } catch (err) {
        if (db.inTransaction) sql.rollback.run();
        throw err;
      }
    } catch (err) {
      // COMMIT (or BEGIN) failed: SQLite rolled everything back, so nobody may see success.
      for (const item of batch) item.reject(err);
      return;
    }
    this.stats.batches++;
    this.stats.items += batch.length;
    for (const hook of hooks) hook();
    const settle = (): void => {
      for (const [i, item] of batch.entries()) {
        const result = results[i];
        if (result.ok) item.resolve(result.value);
        else item.reject(result.value);
      }
    };
    if (!this.walSync) return settle();
    this.afterSync(settle, (err) => {
      for (const item of batch) item.reject(err);
    });
  }
}
