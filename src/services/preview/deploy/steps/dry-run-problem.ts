/**
 * One refusal of the server-side dry run as a line of the preflight's verdict: the object and its file, the API
 * server's status and message, and what to do about it, by what refused it (RBAC, a quota, Pod Security, schema
 * validation, a kind the cluster does not serve).
 */
import type { DryRunAnswer } from "../../../shared/preview.js";
import { PREVIEW_VERBS } from "../../preflight/kinds.js";
import { removedApiAdvice } from "../../preflight/removed-apis.js";

const RBAC = /cannot [a-z]+ resource "([^"]+)" in API group "([^"]*)"/;
const NOT_SERVED = /does not serve (\S+) (\S+)/;

/** What to do about a refusal, from the status and the server's message; undefined when there is nothing to add. */
function dryRunHint(answer: Pick<DryRunAnswer, "status" | "reason" | "message">): string | undefined {
  const message = answer.message ?? "";
  const rbac = RBAC.exec(message);
  if (answer.status === 403 && rbac) {
    const resource = `${rbac[1]}${rbac[2] ? `.${rbac[2]}` : ""}`;
    return `preview-bot's RBAC does not grant ${resource}: ask preview-bot's operator to grant ${PREVIEW_VERBS.join(", ")} on it in ClusterRole preview-bot-previews, or leave the object out (manifests.exclude in .github/preview.yml)`;
  }
  if (/exceeded quota/.test(message))
    return "lower what the object asks for, or raise guardrails.quota in .github/preview.yml (up to preview-bot's PREVIEW_QUOTA_* bounds)";
  if (/violates PodSecurity/.test(message))
    return "set the securityContext fields the message names (the namespace's Pod Security level is guardrails.podSecurity)";
  const unserved = answer.status === 404 && answer.reason === "NotFound" ? NOT_SERVED.exec(message) : null;
  if (unserved) {
    const removed = removedApiAdvice(unserved[1]!, unserved[2]!);
    return (
      removed ??
      "install its CustomResourceDefinition in the cluster first, or leave the object out (manifests.exclude in .github/preview.yml)"
    );
  }
  if (answer.status === 422 || answer.reason === "Invalid" || answer.status === 400)
    return "fix the field(s) the API server names in the manifest";
  return undefined;
}

/** `Widget "w" (deploy/w.yaml, document 1): 403 Forbidden: <message>. <hint>` */
export function dryRunProblem(who: string, answer: DryRunAnswer): string {
  const status = [answer.status, answer.reason].filter((x) => x !== undefined && x !== "").join(" ");
  const hint = dryRunHint(answer);
  return `${who}: ${status ? `${status}: ` : ""}${answer.message ?? "refused"}${hint ? `. To fix: ${hint}` : ""}`;
}
