/**
 * A real Kubernetes control plane for tests, from the pinned Go-built binaries in .tools/bin (tools/build.sh):
 * etcd, kube-apiserver (TLS from a generated CA, static tokens, RBAC authorization, admission with
 * NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity, ResourceQuota and ValidatingAdmissionPolicy),
 * kube-controller-manager (namespace, garbage-collector, deployment, replicaset, replicationcontroller, statefulset,
 * job, cronjob, serviceaccount, serviceaccount-token, resourcequota, volume binding and protection, HPA and TTL
 * controllers),
 * and — for pods that become Running and Ready without a kubelet — kube-scheduler with kwok simulating one node. All on
 * loopback, in a temporary directory that `stop()` removes; every process is killed on stop, and on process exit if
 * stop never ran.
 *
 * What envtest does for controller-runtime, for this project: the same binaries a cluster runs, so admission,
 * RBAC, server-side apply and the namespace controller answer as they do in production.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../postgres.ts";
import { TOOLS_BIN } from "../paths.ts";
import { makeCerts } from "./certs.ts";

/** What a test needs to reach the control plane; serialisable, so the jest global setup can hand it to workers. */
export interface ControlPlaneInfo {
  /** e.g. `v1.37.2`, from the server's /version. */
  version: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** PEM of the CA that signed the serving certificate. */
  caData: string;
  /** Bearer token of a `system:masters` user. */
  adminToken: string;
  /** A kubeconfig file for the admin (for kubectl or a manual look). */
  kubeconfigPath: string;
  /** Whether kwok + kube-scheduler run (pods become Running and Ready on the simulated node). */
  pods: boolean;
  dir: string;
}

export interface ControlPlane extends ControlPlaneInfo {
  stop: () => Promise<void>;
  /** Kill kube-apiserver (SIGKILL, a crash) and start it again on the same port and etcd; resolves once it is ready. */
  restartApiServer: () => Promise<void>;
}

export interface ControlPlaneOptions {
  /** Run kube-scheduler and kwok so pods get scheduled onto a simulated node and become Ready (default true). */
  pods?: boolean;
  /** How long to wait for each component to come up (default 120 s: a loaded 2-core machine is slow to start). */
  startTimeoutMs?: number;
  /** CRD manifests (multi-document YAML files) to install before returning. */
  crdFiles?: string[];
}

const CONTROLLERS = [
  "namespace-controller",
  "garbage-collector-controller",
  "deployment-controller",
  "replicaset-controller",
  // ReplicationControllers (kubernetes/examples' guestbook-go): previews may hold them, so they must roll out here too.
  "replicationcontroller-controller",
  "statefulset-controller",
  "job-controller",
  "cronjob-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "resourcequota-controller",
  "root-ca-certificate-publisher-controller",
  // Volumes: claims bind to (test-made) PersistentVolumes, and the protection finalizers that admission puts on
  // claims and volumes are lifted once nothing uses them — without these a namespace with a PVC never finishes.
  "persistentvolume-binder-controller",
  "persistentvolumeclaim-protection-controller",
  "persistentvolume-protection-controller",
  // An HPA scales its target (to minReplicas, with no metrics server): the field-ownership fight the bot must avoid.
  "horizontal-pod-autoscaler-controller",
  "ttl-after-finished-controller",
];

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function start(name: string, args: string[], logDir: string): ChildProcess {
  const log = createWriteStream(path.join(logDir, `${name}.log`));
  const child = spawn(path.join(TOOLS_BIN, name), args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

function kubeconfig(server: string, caFile: string, token: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: test`,
    `  cluster: { server: "${server}", certificate-authority: "${caFile}" }`,
    "users:",
    `- name: test`,
    `  user: { token: "${token}" }`,
    "contexts:",
    `- name: test`,
    `  context: { cluster: test, user: test }`,
    "current-context: test",
    "",
  ].join("\n");
}

interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTPS request to the API server with a bearer token (the fetch in Node 24 cannot take a custom CA). */
export function apiRequest(
  info: Pick<ControlPlaneInfo, "server" | "caData">,
  token: string,
  method: string,
  urlPath: string,
  body?: unknown,
  contentType = "application/json",
): Promise<HttpAnswer> {
  const url = new URL(urlPath, info.server);
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: info.caData,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(payload !== undefined ? { "content-type": contentType } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  logs?: string,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `test control plane: waiting for ${what}, the process exited (${child.exitCode ?? child.signalCode})${logs ? `\n--- ${logs} (last lines) ---\n${readTail(logs)}` : ""}`,
      );
    }
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = logs ? `\n--- ${logs} (last lines) ---\n${readTail(logs)}` : "";
  throw new Error(
    `test control plane: ${what} did not happen within ${timeoutMs / 1000} s${last ? ` (last error: ${String(last)})` : ""}${tail}`,
  );
}

function readTail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-25).join("\n");
  } catch {
    return "(no log)";
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.end();
  });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const pods = opts.pods ?? true;
  const timeout = opts.startTimeoutMs ?? 120_000;
  const dir = mkdtempSync(path.join(tmpdir(), "preview-bot-kube-"));
  const logs = path.join(dir, "logs");
  mkdirSync(logs);
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const certs = makeCerts(dir);
    const tokens = {
      admin: randomBytes(16).toString("hex"),
      controllerManager: randomBytes(16).toString("hex"),
      scheduler: randomBytes(16).toString("hex"),
      kwok: randomBytes(16).toString("hex"),
    };
    writeFileSync(
      path.join(dir, "tokens.csv"),
      [
        `${tokens.admin},admin,uid-admin,"system:masters"`,
        `${tokens.controllerManager},system:kube-controller-manager,uid-kcm`,
        `${tokens.scheduler},system:kube-scheduler,uid-scheduler`,
        `${tokens.kwok},kwok,uid-kwok,"system:masters"`,
        "",
      ].join("\n"),
    );

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    children.push(
      start(
        "etcd",
        [
          "--name=test",
          `--data-dir=${path.join(dir, "etcd")}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
          "--unsafe-no-fsync",
          "--log-level=warn",
        ],
        logs,
      ),
    );
    await waitUntil(
      "etcd answering /health",
      timeout,
      () => httpOk(`http://127.0.0.1:${etcdClient}/health`),
      path.join(logs, "etcd.log"),
      children.at(-1),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--cert-dir=${path.join(dir, "apiserver")}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${path.join(dir, "tokens.csv")}`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,ResourceQuota,ValidatingAdmissionPolicy",
      "--allow-privileged=true",
      "--enable-priority-and-fairness=false",
      "--profiling=false",
      "--endpoint-reconciler-type=none",
      "-v=0",
    ];
    children.push(start("kube-apiserver", apiArgs, logs));
    const info = { server, caData: readFileSync(certs.caCert, "utf8") };
    const restartApiServer = async (): Promise<void> => {
      const i = children.findIndex((c) => c.spawnargs[0]?.endsWith("kube-apiserver"));
      const old = children[i]!;
      if (old.exitCode === null && old.signalCode === null) {
        const exited = new Promise((r) => old.once("exit", r));
        old.kill("SIGKILL");
        await exited;
      }
      children[i] = start("kube-apiserver", apiArgs, logs);
      await waitUntil(
        "kube-apiserver answering /readyz after a restart",
        timeout,
        async () =>
          (await apiRequest(info, tokens.admin, "GET", "/readyz").catch(() => ({ status: 0 }))).status === 200,
        path.join(logs, "kube-apiserver.log"),
        children[i],
      );
    };
    await waitUntil(
      "kube-apiserver answering /readyz",
      timeout,
      async () => (await apiRequest(info, tokens.admin, "GET", "/readyz")).status === 200,
      path.join(logs, "kube-apiserver.log"),
      children.at(-1),
    );

    const write = (name: string, token: string): string => {
      const file = path.join(dir, `${name}.kubeconfig`);
      writeFileSync(file, kubeconfig(server, certs.caCert, token), { mode: 0o600 });
      return file;
    };
    const kubeconfigPath = write("admin", tokens.admin);
    children.push(
      start(
        "kube-controller-manager",
        [
          `--kubeconfig=${write("controller-manager", tokens.controllerManager)}`,
          "--secure-port=0",
          "--leader-elect=false",
          `--controllers=${CONTROLLERS.join(",")}`,
          `--service-account-private-key-file=${certs.saKey}`,
          `--root-ca-file=${certs.caCert}`,
          "--use-service-account-credentials=true", // each controller acts as its own ServiceAccount, as kubeadm runs it
          "--concurrent-namespace-syncs=4",
          "--horizontal-pod-autoscaler-sync-period=5s",
          "-v=0",
        ],
        logs,
      ),
    );
    // The serviceaccount controller gives every namespace its "default" ServiceAccount: proof the manager runs.
    await waitUntil(
      "kube-controller-manager creating the default ServiceAccount",
      timeout,
      async () =>
        (await apiRequest(info, tokens.admin, "GET", "/api/v1/namespaces/default/serviceaccounts/default")).status ===
        200,
      path.join(logs, "kube-controller-manager.log"),
      children.at(-1),
    );

    if (pods) {
      children.push(
        start(
          "kube-scheduler",
          [`--kubeconfig=${write("scheduler", tokens.scheduler)}`, "--secure-port=0", "--leader-elect=false", "-v=0"],
          logs,
        ),
      );
      children.push(
        start(
          "kwok",
          [
            `--kubeconfig=${write("kwok", tokens.kwok)}`,
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.0/16",
            "--node-ip=127.0.0.1",
            `--config=${path.join(TOOLS_BIN, "kwok-stages.yaml")}`,
          ],
          logs,
        ),
      );
      const node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: "kwok-node-0",
          annotations: { "kwok.x-k8s.io/node": "fake" },
          labels: { "kubernetes.io/hostname": "kwok-node-0", type: "kwok" },
        },
        // ephemeral-storage too: without it the scheduler refuses any container that requests some (as the
        // kubernetesmooc overlay's nats metrics sidecar does): "Insufficient ephemeral-storage".
        status: {
          allocatable: { cpu: "64", memory: "256Gi", pods: "500", "ephemeral-storage": "1Ti" },
          capacity: { cpu: "64", memory: "256Gi", pods: "500", "ephemeral-storage": "1Ti" },
        },
      };
      const created = await apiRequest(info, tokens.admin, "POST", "/api/v1/nodes", node);
      if (created.status !== 201) throw new Error(`creating the kwok node: ${created.status} ${created.body}`);
      await waitUntil(
        "kwok marking its node Ready",
        timeout,
        async () => {
          const r = await apiRequest(info, tokens.admin, "GET", "/api/v1/nodes/kwok-node-0");
          const conditions =
            (JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } }).status
              ?.conditions ?? [];
          return conditions.some((c) => c.type === "Ready" && c.status === "True");
        },
        path.join(logs, "kwok.log"),
        children.at(-1),
      );
      // Admission gave the new node a not-ready taint; the node-lifecycle controller (not run: there is no kubelet
      // heartbeat to judge) would lift it once Ready. Lift it here so pods schedule.
      const untainted = await apiRequest(
        info,
        tokens.admin,
        "PATCH",
        "/api/v1/nodes/kwok-node-0",
        { spec: { taints: null } },
        "application/merge-patch+json",
      );
      if (untainted.status !== 200)
        throw new Error(`removing the kwok node's taints: ${untainted.status} ${untainted.body}`);
    }

    for (const file of opts.crdFiles ?? []) await installManifests(info, tokens.admin, file);

    const version = (
      JSON.parse((await apiRequest(info, tokens.admin, "GET", "/version")).body) as { gitVersion: string }
    ).gitVersion;
    return {
      version,
      server,
      caData: info.caData,
      adminToken: tokens.admin,
      kubeconfigPath,
      pods,
      dir,
      stop,
      restartApiServer,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Server-side apply every document of a YAML file (CRDs), then wait until each CRD is Established. */
async function installManifests(
  info: Pick<ControlPlaneInfo, "server" | "caData">,
  token: string,
  file: string,
): Promise<void> {
  const { parseAllDocuments } = await import("yaml");
  const parsed = parseAllDocuments(readFileSync(file, "utf8"));
  const broken = parsed.find((d) => d.errors.length > 0);
  if (broken) throw new Error(`installing CRDs from ${file}: the YAML does not parse: ${broken.errors[0]!.message}`);
  const docs = parsed.map(
    (d) => d.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } } | null,
  );
  if (!docs.some((d) => d?.kind === "CustomResourceDefinition"))
    throw new Error(`installing CRDs from ${file}: it holds no CustomResourceDefinition`);
  for (const doc of docs) {
    if (!doc?.kind || doc.kind !== "CustomResourceDefinition") continue;
    const name = doc.metadata!.name!;
    const r = await apiRequest(
      info,
      token,
      "PATCH",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=test-setup&force=true`,
      doc,
      "application/apply-patch+yaml",
    );
    if (r.status >= 300) throw new Error(`installing CRD ${name} from ${file}: ${r.status} ${r.body.slice(0, 500)}`);
    await waitUntil(`CRD ${name} established`, 60_000, async () => {
      const got = JSON.parse(
        (await apiRequest(info, token, "GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)).body,
      ) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return (got.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True");
    });
  }
}
