// Group commit: every write submitted while the event loop is busy shares one transaction (one fsync).
import type { DB } from '#data/db.ts';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitStats {
  batches: number;
  items: number;
}

/**
 * better-sqlite3 commits synchronously, so "a commit in flight" blocks the loop; the sockets
 * read meanwhile submit into the next batch, which runs on the following setImmediate. Each
 * item runs in its own savepoint: one bad item fails alone, a failed COMMIT fails the batch.
 * A promise resolves only after COMMIT returned, i.e. after the fsync of synchronous=FULL.
 */
export class GroupCommitter {
  readonly stats: GroupCommitStats = { batches: 0, items: 0 };
  private readonly db: DB;
  private pending: Pending[] = [];
  private scheduled = false;
  private closed = false;
  /** Callbacks registered (afterCommit) by the work running now; null outside any work. */
  private itemHooks: (() => void)[] | null = null;

  // The transaction statements, prepared once: better-sqlite3's db.transaction(fn) builds four
  // wrapper functions per call, which per item and per batch showed up in the ingress profile.
  private readonly sql;

  constructor(db: DB) {
    this.db = db;
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
    return done.value;
  }

  /** Commits what is pending now; later submissions are refused. */
  close(): void {
    this.flush();
    this.closed = true;
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
    for (const [i, item] of batch.entries()) {
      const result = results[i];
      if (result.ok) item.resolve(result.value);
      else item.reject(result.value);
    }
  }
}
