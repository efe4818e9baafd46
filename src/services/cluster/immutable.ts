/**
 * Reading a 422 that says an object cannot be updated in place: the fields a real API server refuses to change
 * (a Job's spec.template, a workload's selector, a Service's clusterIP, a StatefulSet's volumeClaimTemplates, a PVC's
 * spec, an immutable ConfigMap's data). Such an object has to be deleted and created again — what Argo CD's
 * `Replace=true` / `Force=true` and Flux's `force` do.
 */
import { kubeStatus } from "./kube-errors.js";

/** How kube-apiserver v1.37 words an immutability refusal (measured by test/contract). */
const IMMUTABLE =
  /field is immutable|may not change once set|is immutable after creation|updates to statefulset spec for fields other than/;

interface Cause {
  field?: string;
  message?: string;
}

function statusBody(err: unknown): { reason?: string; details?: { causes?: Cause[] } } | undefined {
  const body = (err as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as { reason?: string; details?: { causes?: Cause[] } };
    } catch {
      return undefined;
    }
  }
  return body && typeof body === "object" ? body : undefined;
}

/**
 * The immutable fields an update was refused for, when that is the only reason (every cause is an immutability on a
 * spec-like field); undefined for any other error, so a 422 for a real mistake is reported, not "fixed" by a delete.
 */
export function immutableFields(err: unknown): string[] | undefined {
  if (kubeStatus(err) !== 422) return undefined;
  const body = statusBody(err);
  const causes = body?.reason === "Invalid" ? (body.details?.causes ?? []) : [];
  if (causes.length === 0) return undefined;
  const ok = causes.every(
    (c) => typeof c.field === "string" && !c.field.startsWith("metadata.") && IMMUTABLE.test(c.message ?? ""),
  );
  return ok ? [...new Set(causes.map((c) => c.field!))] : undefined;
}

/** Kinds never replaced automatically: deleting them loses data. */
export const NEVER_REPLACED: ReadonlySet<string> = new Set(["PersistentVolumeClaim", "PersistentVolume", "Namespace"]);
