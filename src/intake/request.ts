/** The one request type every door hands the intake (defined in shared/ so the sweeper can build it too). */
export { isPerson, triggerOf } from "../services/shared/request.js";
export type { CommandArgs, Door, PullSubject, Request, Subject } from "../services/shared/request.js";
