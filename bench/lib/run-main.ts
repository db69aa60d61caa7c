// How the Postfix-comparing benches (bench/smtp-e2e, bench/smtp-scan) end: their clean-ups (Postfix, Tidings, the
// scanners, reserved ports) run last first whether main failed or not, then their scratch directory goes.
import { rmSync } from 'node:fs';

export type Cleanup = () => void | Promise<void>;

const fail = (err: unknown): void => {
  console.error(err);
  process.exitCode = 1;
};

/** Runs main, then every clean-up last first, then removes dir; each error is printed and sets exit code 1. */
export function runMain(main: () => Promise<void>, cleanups: Cleanup[], dir: string): void {
  main()
    .catch(fail)
    .finally(async () => {
      for (const clean of cleanups.reverse()) {
        try {
          await clean();
        } catch (err) {
          fail(err);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });
}
