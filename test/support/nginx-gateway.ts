/**
 * A real nginx in front of preview hosts, configured the way ingress-nginx configures an Ingress that carries
 * `auth-url` and `auth-signin` (its nginx.tmpl: an internal auth location proxied to the auth URL with
 * X-Original-URL, X-Original-Method, X-Sent-From and X-Auth-Request-Redirect and the visitor's own headers; on the
 * protected location `auth_request`, the auth answer's Set-Cookie added to the response, and 401 sent to the sign-in
 * with `rd` set to the original URL).
 *
 * One difference: ingress-nginx escapes `rd` with set_escape_uri (OpenResty's set-misc module), which stock nginx
 * lacks, so here `rd` is the raw URL; the tests' preview URLs have no `&` in them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { until } from "./wait.js";
import { programPath } from "./browser.js";

export interface NginxGateway {
  port: number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

export async function startNginxGateway(p: {
  /** Where the bot listens (127.0.0.1) and its public origin (for auth-signin). */
  botPort: number;
  botUrl: string;
  /** The previews' app. */
  appPort: number;
  /** server_name, e.g. `*.previews.localhost`. */
  serverName: string;
}): Promise<NginxGateway> {
  const nginx = programPath("nginx");
  if (!nginx) throw new Error("nginx is not installed");
  const dir = mkdtempSync(path.join(tmpdir(), "nginx-gateway-"));
  mkdirSync(path.join(dir, "tmp"), { mode: 0o777 });
  const port = await freePort();
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body; proxy_temp_path ${dir}/tmp/proxy; fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi; scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    server_name ${p.serverName};
    location = /_external-auth {
      internal;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host ${new URL(p.botUrl).host};
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Sent-From "nginx-ingress-controller";
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Auth-Request-Redirect $request_uri;
      proxy_http_version 1.1;
      proxy_pass_request_headers on;
      proxy_pass http://127.0.0.1:${p.botPort}/auth/check;
    }
    location / {
      auth_request /_external-auth;
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $auth_cookie;
      error_page 401 = @signin;
      proxy_set_header Host $http_host;
      proxy_http_version 1.1;
      proxy_pass http://127.0.0.1:${p.appPort};
    }
    location @signin {
      return 302 ${p.botUrl}/auth/signin?rd=$scheme://$http_host$request_uri;
    }
  }
}
`;
  writeFileSync(path.join(dir, "nginx.conf"), conf);
  const child: ChildProcess = spawn(nginx, ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  await until(
    `nginx listening on 127.0.0.1:${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${readLog(dir)}`);
      const r = await fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" }).catch(() => undefined);
      return r ? true : undefined;
    },
    60_000,
  );
  return {
    port,
    async close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(dir: string): string {
  try {
    return readFileSync(path.join(dir, "error.log"), "utf8");
  } catch {
    return "";
  }
}
