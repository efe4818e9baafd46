/**
 * Waiting for hooks (Helm hook Jobs and Pods, run before or after the preview's apply, see
 * preview/deploy/steps/hooks.ts): a Job is done when its controller says Complete or Failed, a Pod when it Succeeded
 * or Failed; any other kind is done once applied (as Argo CD treats a hook that has no health of its own). A hook that
 * failed or is still running gets a diagnosis from its pods, as a roll-out does.
 */
import type { BatchV1Api, CoreV1Api, V1Job, V1Pod } from "@kubernetes/client-node";
import { redactText } from "../../logger.js";
import type { HookResult, ObjectRef } from "../shared/preview.js";
import { isNotFound, kubeError, kubeMessage } from "./kube-errors.js";
import { describePod, eventLines, selectorString, warningEvents } from "./rollout-health.js";
import { sleep } from "./support.js";

const MAX_PODS = 2;

export interface HookClients {
  core: CoreV1Api;
  batch: BatchV1Api;
  pollMs: number;
}

const isJob = (r: ObjectRef): boolean => r.kind === "Job" && r.apiVersion === "batch/v1";
const isPod = (r: ObjectRef): boolean => r.kind === "Pod" && r.apiVersion === "v1";

function jobState(job: V1Job): Pick<HookResult, "state" | "summary"> {
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
  if (failed)
    return { state: "failed", summary: `failed: ${failed.reason ?? ""}${failed.message ? `: ${failed.message}` : ""}` };
  if (conditions.some((c) => c.type === "Complete" && c.status === "True"))
    return { state: "succeeded", summary: "completed" };
  const s = job.status;
  return {
    state: "running",
    summary: `running (${s?.active ?? 0} active, ${s?.succeeded ?? 0} succeeded, ${s?.failed ?? 0} failed)`,
  };
}

function podState(pod: V1Pod): Pick<HookResult, "state" | "summary"> {
  const phase = pod.status?.phase ?? "Pending";
  if (phase === "Succeeded") return { state: "succeeded", summary: "succeeded" };
  if (phase === "Failed")
    return { state: "failed", summary: `failed${pod.status?.reason ? `: ${pod.status.reason}` : ""}` };
  return { state: "running", summary: `still ${phase}` };
}

/** One hook's state now; a hook that is gone counts as failed (something deleted it before it finished). */
async function readState(c: HookClients, ref: ObjectRef): Promise<{ result: HookResult; job?: V1Job; pod?: V1Pod }> {
  const namespace = ref.namespace ?? "";
  try {
    if (isJob(ref)) {
      const job = await c.batch.readNamespacedJob({ name: ref.name, namespace });
      return { result: { ...ref, ...jobState(job) }, job };
    }
    if (isPod(ref)) {
      const pod = await c.core.readNamespacedPod({ name: ref.name, namespace });
      return { result: { ...ref, ...podState(pod) }, pod };
    }
    return { result: { ...ref, state: "succeeded", summary: "applied" } };
  } catch (err) {
    if (isNotFound(err)) return { result: { ...ref, state: "failed", summary: "deleted before it finished" } };
    throw kubeError(`reading hook ${ref.kind} "${namespace}/${ref.name}"`, err);
  }
}

async function diagnose(c: HookClients, ref: ObjectRef, job?: V1Job, pod?: V1Pod): Promise<string> {
  const namespace = ref.namespace ?? "";
  const lines: string[] = [];
  lines.push(...eventLines(await warningEvents(c.core, namespace, ref.kind, ref.name)));
  let pods: V1Pod[] = pod ? [pod] : [];
  if (job) {
    try {
      pods = (
        await c.core.listNamespacedPod({ namespace, labelSelector: selectorString(job.spec?.selector) })
      ).items.filter((p) => p.status?.phase !== "Succeeded");
    } catch (err) {
      lines.push(`pods unavailable: ${kubeMessage(err)}`);
    }
    if (pods.length === 0) lines.push("no unfinished pods of the Job");
  }
  for (const p of pods.slice(0, MAX_PODS)) lines.push(...(await describePod(c.core, p)).lines);
  return redactText(lines.join("\n"));
}

/** Poll until every hook has finished or the time is up; the unfinished and the failed get a diagnosis. */
export async function waitForHooks(
  c: HookClients,
  refs: readonly ObjectRef[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HookResult[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(refs.map((r) => readState(c, r)));
    const done = states.every((s) => s.result.state !== "running") || states.some((s) => s.result.state === "failed");
    if (done || Date.now() >= deadline || signal?.aborted) {
      return Promise.all(
        states.map(async (s) =>
          s.result.state === "succeeded"
            ? s.result
            : { ...s.result, diagnosis: await diagnose(c, s.result, s.job, s.pod) },
        ),
      );
    }
    await sleep(Math.min(c.pollMs, deadline - Date.now()), signal);
  }
}
