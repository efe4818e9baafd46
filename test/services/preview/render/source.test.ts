import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createRequire } from "node:module";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import nock from "nock";
import { c as createTar, Header } from "tar";
import { fetchSource } from "../../../../src/services/preview/render/index.js";
import { extractSource } from "../../../../src/services/preview/render/sandboxed/extract.js";
import { GITHUB_API, testOctokit } from "../../../support/github.js";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const PLAIN_APP = path.resolve(here, "../../../fixtures/plain-app");
const SHA = "0123456789abcdef0123456789abcdef01234567";
const CODELOAD = "https://codeload.github.com";

/** A real tar.gz of `dir`, laid out the way GitHub does it (`<owner>-<repo>-<sha7>/...`). */
async function tarballOf(dir: string, top: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const pack = createTar({ gzip: true, cwd: dir, prefix: top, portable: true }, ["."]);
  for await (const chunk of pack) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A hand-made tarball, for entries `tar.c` would never write (`..` paths, absolute symlinks, FIFOs). */
function rawTarball(entries: Array<{ path: string; type: string; body?: string; linkpath?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const header = new Header({
      path: e.path,
      type: e.type as never,
      size: body.length,
      mode: 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    header.encode();
    blocks.push(header.block!);
    if (body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "render-source-"));
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(async () => {
  nock.enableNetConnect();
  nock.restore();
  await rm(tmp, { recursive: true, force: true });
});

/** What the bot and then the renderer do: download the tarball to a file, then extract it (in-process here). */
async function fetchAndExtract(dest: string, maxBytes = 200 * 1024 * 1024) {
  const file = `${dest}.tar.gz`;
  await mkdir(path.dirname(file), { recursive: true });
  await fetchSource({ octokit: testOctokit(), owner: "acme", repo: "shop", sha: SHA, file, maxBytes });
  return extractSource({ file, dest, maxBytes, maxEntries: 100_000, label: "acme/shop@0123456" });
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = `${prefix}${e.name}`;
    out.push(rel);
    if (e.isDirectory()) out.push(...(await listTree(path.join(dir, e.name), `${rel}/`)));
  }
  return out;
}

describe("fetchSource (the bot downloads) and extractSource (the renderer extracts)", () => {
  it("downloads the tarball at the head SHA, follows GitHub's redirect and extracts it without the top directory", async () => {
    const archive = await tarballOf(PLAIN_APP, "acme-shop-0123456/");
    const api = nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(302, "", { Location: `${CODELOAD}/acme/shop/legacy.tar.gz/${SHA}` });
    const codeload = nock(CODELOAD)
      .get(`/acme/shop/legacy.tar.gz/${SHA}`)
      .reply(200, archive, { "Content-Type": "application/x-gzip" });
    const dest = path.join(tmp, "ok");
    const result = await fetchAndExtract(dest);
    expect(api.isDone() && codeload.isDone()).toBe(true);
    expect(await listTree(dest)).toEqual(await listTree(PLAIN_APP));
    expect(await readFile(path.join(dest, "deploy/app.yaml"), "utf8")).toBe(
      await readFile(path.join(PLAIN_APP, "deploy/app.yaml"), "utf8"),
    );
    expect(result.skipped).toEqual([]);
  });

  it("does not extract paths or links that escape the checkout, nor devices and FIFOs", async () => {
    const archive = rawTarball([
      { path: "acme-shop-0123456/", type: "Directory" },
      { path: "acme-shop-0123456/ok.yaml", type: "File", body: "kind: ConfigMap\n" },
      { path: "acme-shop-0123456/../../escaped.txt", type: "File", body: "pwned" },
      { path: "acme-shop-0123456/passwd", type: "SymbolicLink", linkpath: "/etc/passwd" },
      { path: "acme-shop-0123456/up", type: "SymbolicLink", linkpath: "../../../etc" },
      { path: "acme-shop-0123456/same.yaml", type: "SymbolicLink", linkpath: "ok.yaml" },
      { path: "acme-shop-0123456/pipe", type: "FIFO" },
    ]);
    nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(200, archive, { "Content-Type": "application/x-gzip" });
    const dest = path.join(tmp, "hostile", "checkout");
    const result = await fetchAndExtract(dest);
    expect(await listTree(dest)).toEqual(["ok.yaml", "same.yaml"]);
    expect(await readlink(path.join(dest, "same.yaml"))).toBe("ok.yaml");
    expect(await lstat(path.join(tmp, "escaped.txt")).catch(() => "absent")).toBe("absent");
    expect(await lstat(path.join(tmp, "hostile", "escaped.txt")).catch(() => "absent")).toBe("absent");
    const skipped = result.skipped.join("\n");
    expect(skipped).toMatch(/passwd: symlink to \/etc\/passwd points outside the checkout/);
    expect(skipped).toMatch(/up: symlink to \.\.\/\.\.\/\.\.\/etc points outside the checkout/);
    expect(skipped).toMatch(/escaped.txt: path escapes the checkout/);
    expect(skipped).toMatch(/pipe: FIFO entries are not extracted/);
  });

  it("refuses an archive over the size cap, and leaves no file behind", async () => {
    const archive = rawTarball([{ path: "top/big.txt", type: "File", body: "x".repeat(4096) }]);
    nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(200, archive, { "Content-Type": "application/x-gzip" });
    const file = path.join(tmp, "big.tar.gz");
    await expect(
      fetchSource({ octokit: testOctokit(), owner: "acme", repo: "shop", sha: SHA, file, maxBytes: 64 }),
    ).rejects.toThrow(/fetching acme\/shop@0123456789ab: the tarball is over the 64-byte limit/);
    expect(await lstat(file).catch(() => "absent")).toBe("absent");
  });

  it("refuses to extract more than the cap (a small archive that unpacks big)", async () => {
    const archive = rawTarball([{ path: "top/big.txt", type: "File", body: "x".repeat(4096) }]);
    nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(200, archive, { "Content-Type": "application/x-gzip" });
    await expect(fetchAndExtract(path.join(tmp, "bomb"), 1024)).rejects.toThrow(
      /extracting acme\/shop@0123456: the tarball unpacks to more than 1024 bytes/,
    );
  });

  it("never keeps a symlink whose real target leaves the checkout through a chain of relative links, or is a device", async () => {
    // Each link alone points inside; followed in turn they reach /etc/passwd. Textual checks on tar entries pass them.
    const archive = rawTarball([
      { path: "t/", type: "Directory" },
      { path: "t/a/", type: "Directory" },
      { path: "t/a/b/", type: "Directory" },
      { path: "t/real.sql", type: "File", body: "select 1;" },
      { path: "t/hop", type: "SymbolicLink", linkpath: "a/b" },
      { path: "t/hop2", type: "SymbolicLink", linkpath: "hop/../../.." },
      { path: "t/seed.sql", type: "SymbolicLink", linkpath: "hop2/etc/passwd" },
      { path: "t/zero.sql", type: "SymbolicLink", linkpath: "a/../../../../../dev/zero" },
      { path: "t/chained.sql", type: "SymbolicLink", linkpath: "ok.sql" },
      { path: "t/ok.sql", type: "SymbolicLink", linkpath: "real.sql" },
    ]);
    nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(200, archive, { "Content-Type": "application/x-gzip" });
    const dest = path.join(tmp, "chains");
    const result = await fetchAndExtract(dest);
    expect(await listTree(dest)).toEqual(["a", "a/b", "hop", "ok.sql", "real.sql"]);
    const skipped = result.skipped.join("\n");
    expect(skipped).toMatch(
      /hop2: symlink to hop\/\.\.\/\.\.\/\.\. (points outside the checkout|passes through another link)/,
    );
    expect(skipped).toMatch(/seed\.sql: symlink to hop2\/etc\/passwd/);
    expect(skipped).toMatch(
      /zero\.sql: symlink to a\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/dev\/zero points outside the checkout/,
    );
    expect(skipped).toMatch(
      /chained\.sql: symlink to ok\.sql(: the target is not in the checkout| points at another link)/,
    );
  });

  it("streams: stops downloading at the cap instead of buffering the archive first", async () => {
    const big = rawTarball([
      {
        path: "t/blob.bin",
        type: "File",
        body: (require("node:crypto") as typeof import("node:crypto")).randomBytes(3 * 1024 * 1024).toString("base64"),
      },
    ]);
    let sent = 0;
    nock(GITHUB_API)
      .get(`/repos/acme/shop/tarball/${SHA}`)
      .reply(
        200,
        () => {
          const { Readable } = require("node:stream") as typeof import("node:stream");
          return Readable.from(
            (function* () {
              for (let i = 0; i < big.length; i += 16 * 1024) {
                sent += 16 * 1024;
                yield big.subarray(i, i + 16 * 1024);
              }
            })(),
          );
        },
        { "Content-Type": "application/x-gzip" },
      );
    await expect(
      fetchSource({
        octokit: testOctokit(),
        owner: "acme",
        repo: "shop",
        sha: SHA,
        file: path.join(tmp, "capped.tar.gz"),
        maxBytes: 64 * 1024,
      }),
    ).rejects.toThrow(/over the 65536-byte limit/);
    expect(sent).toBeLessThan(big.length);
  });

  it("says what was being fetched when GitHub answers 404", async () => {
    nock(GITHUB_API).get(`/repos/acme/shop/tarball/${SHA}`).reply(404, { message: "Not Found" });
    await expect(
      fetchSource({
        octokit: testOctokit(),
        owner: "acme",
        repo: "shop",
        sha: SHA,
        file: path.join(tmp, "missing.tgz"),
      }),
    ).rejects.toThrow(/fetching acme\/shop@0123456789ab: downloading the tarball: not found/);
  });
});
