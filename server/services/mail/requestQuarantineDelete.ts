// Staff ask for a quarantined copy to be deleted (its bytes removed on the node); the node applies it on its next
// sync, and its 'purged' event (reason 'staff') resolves the action.
import { requestAction, type QuarantineRequest, type RequestedAction } from './quarantineAction.ts';

export function requestQuarantineDelete(req: QuarantineRequest): RequestedAction {
  return requestAction(req, 'delete');
}
