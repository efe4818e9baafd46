/** The one request type every door hands the intake (defined in shared/ so the sweeper can build it too). */
export { isPerson, triggerOf } from "../services/shared/request.js";
export type { Door, PullSubject, Request } from "../services/shared/request.js";
