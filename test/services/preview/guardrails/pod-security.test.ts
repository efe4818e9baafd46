/**
 * The render's Pod Security check, one case per rule of the Pod Security Standards it follows: what each level
 * refuses, in the words the check run shows, and what it lets through.
 */
import { describe, expect, it } from "@jest/globals";
import { podSecurityProblems } from "../../../../src/services/preview/guardrails/pod-security.js";

type Rec = Record<string, unknown>;
const pod = (container: Rec = {}, spec: Rec = {}): Rec => ({
  containers: [{ name: "app", image: "nginx:1", ...container }],
  ...spec,
});
/** A container that passes `restricted`. */
const hardened: Rec = {
  securityContext: {
    allowPrivilegeEscalation: false,
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
    capabilities: { drop: ["ALL"] },
  },
};

describe("podSecurityProblems at baseline", () => {
  it("lets an ordinary pod through, and every level refuses nodeName pinning", () => {
    expect(podSecurityProblems(pod(), "baseline")).toEqual([]);
    expect(podSecurityProblems(pod({}, { nodeName: "" }), "baseline")).toEqual([]);
    for (const level of ["privileged", "baseline", "restricted"] as const) {
      expect(podSecurityProblems(pod(hardened, { nodeName: "node-1" }), level)).toEqual([
        'nodeName "node-1" pins it to a node (bypassing the scheduler)',
      ]);
    }
  });

  it.each([
    ["hostNetwork", pod({}, { hostNetwork: true }), "hostNetwork: true shares the node's network namespace"],
    ["hostPID", pod({}, { hostPID: true }), "hostPID: true shares the node's pid namespace"],
    ["hostIPC", pod({}, { hostIPC: true }), "hostIPC: true shares the node's ipc namespace"],
    [
      "a hostPath volume",
      pod({}, { volumes: [{ name: "root", hostPath: { path: "/" } }] }),
      'volume "root" is a hostPath (the node\'s filesystem)',
    ],
    [
      "an unsafe sysctl",
      pod({}, { securityContext: { sysctls: [{ name: "kernel.msgmax", value: "1" }] } }),
      "sysctl kernel.msgmax is not in the safe set",
    ],
    ["a privileged container", pod({ securityContext: { privileged: true } }), 'container "app" is privileged'],
    [
      "an added capability outside the baseline set",
      pod({ securityContext: { capabilities: { add: ["CHOWN", "CAP_SYS_ADMIN", "NET_RAW"] } } }),
      'container "app" adds capabilities CAP_SYS_ADMIN, NET_RAW',
    ],
    [
      "a hostPort",
      pod({ ports: [{ containerPort: 80, hostPort: 8080 }] }),
      'container "app" binds hostPort 8080 on the node',
    ],
    [
      "an unmasked /proc",
      pod({ securityContext: { procMount: "Unmasked" } }),
      'container "app" asks for procMount Unmasked',
    ],
    [
      "a Windows host process",
      pod({ securityContext: { windowsOptions: { hostProcess: true } } }),
      'container "app" is a Windows host process',
    ],
    [
      "seccomp Unconfined on the pod",
      pod({}, { securityContext: { seccompProfile: { type: "Unconfined" } } }),
      "the pod runs with seccomp Unconfined",
    ],
    [
      "AppArmor Unconfined on a container",
      pod({ securityContext: { appArmorProfile: { type: "Unconfined" } } }),
      'container "app" runs with AppArmor Unconfined',
    ],
    [
      "a custom SELinux type",
      pod({ securityContext: { seLinuxOptions: { type: "spc_t" } } }),
      'container "app" sets SELinux type spc_t',
    ],
  ])("refuses %s", (_what, spec, problem) => {
    expect(podSecurityProblems(spec, "baseline")).toEqual([problem]);
    expect(podSecurityProblems(spec, "privileged")).toEqual([]);
  });

  it("checks init and ephemeral containers too, naming each", () => {
    const spec = {
      containers: [{ name: "app" }],
      initContainers: [{ name: "setup", securityContext: { privileged: true } }],
      ephemeralContainers: [{ name: "debug", securityContext: { privileged: true } }],
    };
    expect(podSecurityProblems(spec, "baseline")).toEqual([
      'initContainer "setup" is privileged',
      'ephemeralContainer "debug" is privileged',
    ]);
  });

  it("allows what baseline allows: safe sysctls, baseline capabilities, hostPort 0, Default procMount, the container SELinux types, RuntimeDefault", () => {
    const spec = pod(
      {
        securityContext: {
          capabilities: { add: ["NET_BIND_SERVICE", "CAP_CHOWN"] },
          procMount: "Default",
          seLinuxOptions: { type: "container_t" },
          seccompProfile: { type: "RuntimeDefault" },
          appArmorProfile: { type: "RuntimeDefault" },
        },
        ports: [{ containerPort: 80, hostPort: 0 }],
      },
      {
        securityContext: {
          sysctls: [{ name: "net.ipv4.ip_local_port_range", value: "1024 65535" }],
          seLinuxOptions: { type: "" },
        },
        volumes: [{ name: "tmp", emptyDir: {} }],
      },
    );
    expect(podSecurityProblems(spec, "baseline")).toEqual([]);
  });
});

describe("podSecurityProblems at restricted", () => {
  it("lets a hardened pod through, also with the pod-level runAsNonRoot and seccomp and NET_BIND_SERVICE added back", () => {
    expect(podSecurityProblems(pod(hardened), "restricted")).toEqual([]);
    const podLevel = pod(
      {
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
        },
      },
      {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "Localhost", localhostProfile: "p.json" } },
        volumes: [
          { name: "cfg", configMap: { name: "c" } },
          { name: "data", persistentVolumeClaim: { claimName: "d" } },
        ],
      },
    );
    expect(podSecurityProblems(podLevel, "restricted")).toEqual([]);
  });

  it("says everything an ordinary container lacks", () => {
    expect(podSecurityProblems(pod(), "restricted")).toEqual([
      'container "app" must set securityContext.allowPrivilegeEscalation: false',
      'container "app" must run as non-root (runAsNonRoot: true)',
      'container "app" must set seccompProfile.type RuntimeDefault (or Localhost)',
      'container "app" must drop ALL capabilities',
    ]);
  });

  it.each([
    [
      "uid 0 on the container",
      pod({ securityContext: { ...(hardened.securityContext as Rec), runAsUser: 0 } }),
      'container "app" runs as uid 0',
    ],
    ["uid 0 on the pod", pod(hardened, { securityContext: { runAsUser: 0 } }), 'container "app" runs as uid 0'],
    [
      "a container that overrides the pod's runAsNonRoot",
      pod(
        { securityContext: { ...(hardened.securityContext as Rec), runAsNonRoot: false } },
        { securityContext: { runAsNonRoot: true } },
      ),
      'container "app" must run as non-root (runAsNonRoot: true)',
    ],
    [
      "a capability other than NET_BIND_SERVICE",
      pod({
        securityContext: {
          ...(hardened.securityContext as Rec),
          capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE", "CHOWN"] },
        },
      }),
      'container "app" may add only NET_BIND_SERVICE, not CHOWN',
    ],
    [
      "a volume type outside the restricted set",
      pod(hardened, { volumes: [{ name: "nfs", nfs: { server: "x", path: "/" } }] }),
      'volume "nfs" is of type nfs, not allowed at "restricted"',
    ],
  ])("refuses %s", (_what, spec, problem) => {
    expect(podSecurityProblems(spec, "restricted")).toEqual([problem]);
  });

  it("keeps the baseline refusals, and reports a hostPath once (as baseline words it)", () => {
    expect(
      podSecurityProblems(
        pod({ securityContext: { ...(hardened.securityContext as Rec), privileged: true } }),
        "restricted",
      ),
    ).toEqual(['container "app" is privileged']);
    expect(
      podSecurityProblems(pod(hardened, { volumes: [{ name: "root", hostPath: { path: "/" } }] }), "restricted"),
    ).toEqual(['volume "root" is a hostPath (the node\'s filesystem)']);
  });
});
