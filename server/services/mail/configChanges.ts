// What an MX node asks for: the configuration changes after its version, one page at a time.
import type { DB } from '#data/db.ts';
import { MX_CONFIG_PAGE, type MxConfigPayload } from '#data/contracts/mx-config.ts';
import { changesSince, currentConfigVersion, findNodeByTokenHash, markNodeSeen, type MxNode } from '../../store/mail.ts';
import { hashNodeToken } from './issueNodeToken.ts';

export function authenticateNode(db: DB, token: string): MxNode | undefined {
  return findNodeByTokenHash(db, hashNodeToken(token));
}

export function configChanges({ db, node, since, now }: { db: DB; node: MxNode; since: number; now: string }): MxConfigPayload {
  // A node ahead of the log saw a backend that has since been restored from backup: make it start over.
  const reset = since > currentConfigVersion(db);
  if (reset) since = 0;
  const page = changesSince(db, since, MX_CONFIG_PAGE + 1);
  const more = page.length > MX_CONFIG_PAGE;
  const changes = more ? page.slice(0, MX_CONFIG_PAGE) : page;
  const version = changes.length ? changes[changes.length - 1].version : since;
  markNodeSeen(db, node.id, version, now);
  return { since, version, more, reset, changes };
}
