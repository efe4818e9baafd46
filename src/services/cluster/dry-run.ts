/**
 * The preflight's server half: every object server-side applied as a dry run (`dryRun=All`, preview-bot's field
 * manager, force), in apply order, as whoever the client authenticates as (the bot's own ServiceAccount in a deploy).
 * The API server runs authorization (RBAC: 403 "cannot patch resource"), its whole admission chain (Pod Security,
 * ResourceQuota for what the object itself counts, LimitRanger, ValidatingAdmissionPolicies, webhooks) and schema
 * validation (422), and stores nothing. Each object gets its own answer, warnings included (a workload's Pod Security
 * violations at the namespace's `warn` level come back as warnings, not refusals). An update the server refuses only
 * because immutable fields changed is what the apply resolves by re-creating the object (apply.ts): answered
 * "replace", not a refusal — unless the object is never replaced (a PersistentVolumeClaim). A server that cannot
 * answer (5xx, 429, 408) says nothing about the object: that is thrown, a transient error the job queue retries —
 * except the 500 the server gives a field of the wrong type, which is that object's refusal.
 */
import { ApiException } from "@kubernetes/client-node";
import { describeRef, refOf, type DryRunAnswer, type KubeObject } from "../shared/preview.js";
import { immutableFields, NEVER_REPLACED } from "./immutable.js";
import { kubeError, kubeMessage } from "./kube-errors.js";
import { withoutServerFields } from "./managed-fields.js";
import { rank, type ObjectApi } from "./support.js";

const statusOf = (body: unknown): { reason?: string; message?: string } =>
  body && typeof body === "object" ? body : {};

/** kube-apiserver's 500 for an applied object whose field has the wrong type (`env[].value: false`). */
const isTypedPatchRefusal = (message: string | undefined): boolean =>
  message?.startsWith("failed to create typed patch object") === true;

/** Dry-run each object; refusals are answers, only an unreachable server (or a bug) throws. */
export async function dryRunObjects(
  api: ObjectApi,
  fieldManager: string,
  objects: readonly KubeObject[],
): Promise<DryRunAnswer[]> {
  const answers: DryRunAnswer[] = [];
  const ordered = objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o.kind) - rank(b.o.kind) || a.i - b.i)
    .map((x) => x.o);
  for (const original of ordered) {
    const ref = refOf(original);
    const { object } = withoutServerFields(original);
    let served: boolean | undefined;
    try {
      served = (await api.namespaced(object.apiVersion, object.kind)) !== undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) throw kubeError(`dry-running ${describeRef(ref)}`, err);
    }
    if (!served) {
      answers.push({
        ref,
        outcome: "refused",
        status: 404,
        reason: "NotFound",
        message: `the cluster does not serve ${object.apiVersion} ${object.kind} (no such kind in its API discovery: a missing CRD?)`,
        warnings: [],
      });
      continue;
    }
    const raw = await api.dryRunApply(object, fieldManager);
    const { reason, message } = statusOf(raw.body);
    // The server could not answer (5xx, 429, 408): not a verdict on the object, so an error the job queue retries.
    // Except the 500 server-side apply gives a field of the wrong type (kubernetes/kubernetes#139253): that is the
    // object's refusal, the same on every try.
    if ((raw.status >= 500 && !isTypedPatchRefusal(message)) || raw.status === 429 || raw.status === 408)
      throw kubeError(
        `dry-running ${describeRef(ref)}`,
        new ApiException(raw.status, message ?? `HTTP ${raw.status}`, raw.body, {}),
      );
    if (raw.status < 300) {
      answers.push({ ref, outcome: "accepted", status: raw.status, warnings: raw.warnings });
      continue;
    }
    const fields = immutableFields({ code: raw.status, body: raw.body });
    answers.push({
      ref,
      outcome: fields && !NEVER_REPLACED.has(object.kind) ? "replace" : "refused",
      status: raw.status,
      ...(reason ? { reason } : {}),
      message: message ?? kubeMessage({ code: raw.status, body: raw.body }),
      warnings: raw.warnings,
      ...(fields ? { immutable: fields } : {}),
    });
  }
  return answers;
}
