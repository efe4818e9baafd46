/**
 * Pod specs a shared cluster must not run, checked at render time so the author reads why in the check run instead
 * of watching a roll-out stall on admission. The levels follow Kubernetes Pod Security Standards
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
 * - `baseline` (default) refuses privileged containers, host namespaces (hostNetwork, hostPID, hostIPC), hostPath
 *   volumes, hostPorts, added capabilities outside the baseline set, Unconfined seccomp/AppArmor, custom SELinux
 *   types, Unmasked /proc and unsafe sysctls;
 * - `restricted` also requires non-root, no privilege escalation, RuntimeDefault/Localhost seccomp, `drop: [ALL]`
 *   (only NET_BIND_SERVICE added back) and only the restricted volume types;
 * - `privileged` refuses none of these.
 * Whatever the level, `nodeName` pinning is refused (it bypasses the scheduler, and so quotas and taints).
 */
type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(asRec).filter((x): x is Rec => x !== undefined) : []);

import type { PodSecurityLevel } from "./settings.js";

export type { PodSecurityLevel };

const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);
const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
  "name",
]);

function containersOf(pod: Rec): Array<{ where: string; c: Rec }> {
  const out: Array<{ where: string; c: Rec }> = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"] as const) {
    for (const c of asList(pod[field]))
      out.push({
        where: `${field === "containers" ? "container" : field.replace(/s$/, "")} "${String(c.name ?? "?")}"`,
        c,
      });
  }
  return out;
}

function baseline(pod: Rec, problems: string[]): void {
  for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
    if (pod[field] === true)
      problems.push(`${field}: true shares the node's ${field.slice(4).toLowerCase()} namespace`);
  }
  for (const v of asList(pod.volumes))
    if (v.hostPath !== undefined)
      problems.push(`volume "${String(v.name ?? "?")}" is a hostPath (the node's filesystem)`);
  const podCtx = asRec(pod.securityContext) ?? {};
  checkProfiles(podCtx, "the pod", problems);
  for (const s of asList(podCtx.sysctls))
    if (!SAFE_SYSCTLS.has(String(s.name))) problems.push(`sysctl ${String(s.name)} is not in the safe set`);
  for (const { where, c } of containersOf(pod)) {
    const ctx = asRec(c.securityContext) ?? {};
    if (ctx.privileged === true) problems.push(`${where} is privileged`);
    const added = (asRec(ctx.capabilities)?.add as unknown[] | undefined) ?? [];
    const extra = added.map(String).filter((cap) => !BASELINE_CAPABILITIES.has(cap.replace(/^CAP_/, "")));
    if (extra.length) problems.push(`${where} adds capabilities ${extra.join(", ")}`);
    for (const p of asList(c.ports))
      if (p.hostPort !== undefined && p.hostPort !== 0)
        problems.push(`${where} binds hostPort ${String(p.hostPort)} on the node`);
    if (ctx.procMount !== undefined && ctx.procMount !== "Default")
      problems.push(`${where} asks for procMount ${String(ctx.procMount)}`);
    if (asRec(ctx.windowsOptions)?.hostProcess === true) problems.push(`${where} is a Windows host process`);
    checkProfiles(ctx, where, problems);
  }
}

function checkProfiles(ctx: Rec, where: string, problems: string[]): void {
  if (asRec(ctx.seccompProfile)?.type === "Unconfined") problems.push(`${where} runs with seccomp Unconfined`);
  if (asRec(ctx.appArmorProfile)?.type === "Unconfined") problems.push(`${where} runs with AppArmor Unconfined`);
  const seType = asRec(ctx.seLinuxOptions)?.type;
  if (
    seType !== undefined &&
    !["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"].includes(String(seType))
  ) {
    problems.push(`${where} sets SELinux type ${String(seType)}`);
  }
}

function restricted(pod: Rec, problems: string[]): void {
  for (const v of asList(pod.volumes)) {
    const type = Object.keys(v).find((k) => !RESTRICTED_VOLUMES.has(k));
    if (type && type !== "hostPath")
      problems.push(`volume "${String(v.name ?? "?")}" is of type ${type}, not allowed at "restricted"`);
  }
  const podCtx = asRec(pod.securityContext) ?? {};
  for (const { where, c } of containersOf(pod)) {
    const ctx = asRec(c.securityContext) ?? {};
    if (ctx.allowPrivilegeEscalation !== false)
      problems.push(`${where} must set securityContext.allowPrivilegeEscalation: false`);
    if ((ctx.runAsNonRoot ?? podCtx.runAsNonRoot) !== true)
      problems.push(`${where} must run as non-root (runAsNonRoot: true)`);
    if (ctx.runAsUser === 0 || podCtx.runAsUser === 0) problems.push(`${where} runs as uid 0`);
    const seccomp = String(asRec(ctx.seccompProfile)?.type ?? asRec(podCtx.seccompProfile)?.type ?? "");
    if (!["RuntimeDefault", "Localhost"].includes(seccomp))
      problems.push(`${where} must set seccompProfile.type RuntimeDefault (or Localhost)`);
    const caps = asRec(ctx.capabilities) ?? {};
    if (!((caps.drop as unknown[] | undefined) ?? []).map(String).includes("ALL"))
      problems.push(`${where} must drop ALL capabilities`);
    const added = ((caps.add as unknown[] | undefined) ?? []).map(String).filter((cap) => cap !== "NET_BIND_SERVICE");
    if (added.length) problems.push(`${where} may add only NET_BIND_SERVICE, not ${added.join(", ")}`);
  }
}

/** What `pod` (a pod spec) does that the level forbids, one phrase each; empty when it may run. */
export function podSecurityProblems(pod: Record<string, unknown>, level: PodSecurityLevel): string[] {
  const problems: string[] = [];
  if (typeof pod.nodeName === "string" && pod.nodeName)
    problems.push(`nodeName "${pod.nodeName}" pins it to a node (bypassing the scheduler)`);
  if (level === "privileged") return problems;
  baseline(pod, problems);
  if (level === "restricted") restricted(pod, problems);
  return problems;
}
