// Opens the node's queue database the way the queue's durability rests on it.
import { type DB, MIGRATIONS, openDatabase } from '#data/db.ts';

/**
 * WAL with synchronous=NORMAL: COMMIT writes the WAL without waiting for the disk, and the GroupCommitter fsyncs the
 * WAL file on libuv's pool before it resolves any submission (queue/group-commit.ts, walFileSync). So a 250 still goes
 * out only once the message is on disk, but the event loop that serves the SMTP sessions and the delivery worker no
 * longer stalls in every COMMIT (it was a quarter of the node's main-thread time under load; bench/smtp-e2e/README.md).
 * Writes made outside the committer (the replica, the telemetry cursor) become durable with its next fsync or
 * SQLite's next checkpoint; each of them is re-fetched or re-sent if a power cut loses it.
 */
export function openNodeDatabase(file: string): DB {
  return openDatabase(file, { migrationsDir: MIGRATIONS.node, synchronous: 'NORMAL' });
}
