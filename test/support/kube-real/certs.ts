/**
 * Key material for a test control plane, made with the system's `openssl` (execFile, no shell): a CA, a serving
 * certificate for 127.0.0.1/localhost signed by it, and the service-account signing key pair. Everything is written
 * into `dir` and the paths are returned.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";

export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** Service-account token signing key (private) and its public half (for verification). */
  saKey: string;
  saPub: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new Error(
      `openssl ${args[0]} failed (is openssl installed?): ${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`,
      { cause: err },
    );
  }
}

export function makeCerts(dir: string): ControlPlaneCerts {
  const p = (name: string) => path.join(dir, name);
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=preview-bot-test-ca",
  ]);
  writeFileSync(
    p("serving.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    p("serving.key"),
    "-out",
    p("serving.csr"),
    "-subj",
    "/CN=kube-apiserver",
  ]);
  openssl([
    "x509",
    "-req",
    "-in",
    p("serving.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("serving.crt"),
    "-days",
    "2",
    "-extfile",
    p("serving.ext"),
  ]);
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(p("sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(p("sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}
