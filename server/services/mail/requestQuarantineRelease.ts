// Staff ask for a quarantined copy to be released: delivered as if clean. Never for a virus (409); the node applies
// it on its next sync, and its 'released' event resolves the action and counts the copy back into the queue.
import { requestAction, type QuarantineRequest, type RequestedAction } from './quarantineAction.ts';

export function requestQuarantineRelease(req: QuarantineRequest): RequestedAction {
  return requestAction(req, 'release');
}
