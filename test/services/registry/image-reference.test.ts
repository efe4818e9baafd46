import { describe, expect, it } from "@jest/globals";
import {
  canonicalReference,
  displayReference,
  manifestReference,
  parseImageReference,
  pinnedReference,
  registryApiHost,
} from "../../../src/services/registry/image-reference.js";

const D = `sha256:${"ab".repeat(32)}`;

describe("parseImageReference", () => {
  // [as written, registry, repository, tag, digest, canonical]: Docker's own normalization (distribution/reference).
  it.each([
    ["nginx", "docker.io", "library/nginx", undefined, undefined, "docker.io/library/nginx:latest"],
    ["nginx:1.27", "docker.io", "library/nginx", "1.27", undefined, "docker.io/library/nginx:1.27"],
    ["library/nginx:1.27", "docker.io", "library/nginx", "1.27", undefined, "docker.io/library/nginx:1.27"],
    ["docker.io/nginx", "docker.io", "library/nginx", undefined, undefined, "docker.io/library/nginx:latest"],
    ["index.docker.io/nginx", "docker.io", "library/nginx", undefined, undefined, "docker.io/library/nginx:latest"],
    ["bitnami/redis:7", "docker.io", "bitnami/redis", "7", undefined, "docker.io/bitnami/redis:7"],
    ["docker.io/bitnami/redis", "docker.io", "bitnami/redis", undefined, undefined, "docker.io/bitnami/redis:latest"],
    ["ghcr.io/acme/web:pr-42", "ghcr.io", "acme/web", "pr-42", undefined, "ghcr.io/acme/web:pr-42"],
    ["GHCR.io/acme/web", "ghcr.io", "acme/web", undefined, undefined, "ghcr.io/acme/web:latest"],
    [
      `registry.example.com:5000/x/y@${D}`,
      "registry.example.com:5000",
      "x/y",
      undefined,
      D,
      `registry.example.com:5000/x/y@${D}`,
    ],
    [`nginx:1.27@${D}`, "docker.io", "library/nginx", "1.27", D, `docker.io/library/nginx:1.27@${D}`],
    ["localhost/app", "localhost", "app", undefined, undefined, "localhost/app:latest"],
    ["localhost:5000/app:v1", "localhost:5000", "app", "v1", undefined, "localhost:5000/app:v1"],
    ["127.0.0.1:5000/team/web:pr-1", "127.0.0.1:5000", "team/web", "pr-1", undefined, "127.0.0.1:5000/team/web:pr-1"],
    ["[::1]:5000/app", "[::1]:5000", "app", undefined, undefined, "[::1]:5000/app:latest"],
    ["Registry/app", "registry", "app", undefined, undefined, "registry/app:latest"],
    [
      "acme.azurecr.io/team/api:1.0.0-rc.1",
      "acme.azurecr.io",
      "team/api",
      "1.0.0-rc.1",
      undefined,
      "acme.azurecr.io/team/api:1.0.0-rc.1",
    ],
    ["a/b/c/d:e", "docker.io", "a/b/c/d", "e", undefined, "docker.io/a/b/c/d:e"],
    ["my_app/web--x__y.z:T_1", "docker.io", "my_app/web--x__y.z", "T_1", undefined, "docker.io/my_app/web--x__y.z:T_1"],
  ])("%s → %s / %s", (written, registry, repository, tag, digest, canonical) => {
    const ref = parseImageReference(written);
    expect(ref).toEqual({
      registry,
      repository,
      name: written.replace(/@.*$/, "").replace(/:[^:/]*$/, ""),
      ...(tag !== undefined && { tag }),
      ...(digest !== undefined && { digest }),
    });
    expect(canonicalReference(ref)).toBe(canonical);
    expect(displayReference(ref)).toBe(written);
  });

  it.each([
    ["", "empty"],
    [" nginx", "whitespace"],
    ["nginx:", "tag"],
    ["nginx:-bad", "tag"],
    [`nginx:${"x".repeat(129)}`, "tag"],
    ["Nginx", "lower case"],
    ["ghcr.io/Acme/web", "lower case"],
    ["ghcr.io/", "no repository name"],
    ["ghcr.io/acme//web", "path component"],
    ["ghcr.io/acme/-web", "path component"],
    ["ghcr.io/acme/web@sha256:abc", "digest"],
    [`ghcr.io/acme/web@sha256:${"a".repeat(63)}`, "64 hex digits"],
    [`ghcr.io/acme/web@SHA256:${"a".repeat(64)}`, "digest"],
    ["bad_host:5000/x/y", "registry host"],
    [`x/${"a".repeat(260)}`, "longer than 255"],
  ])("refuses %j, saying what is wrong (%s)", (written, why) => {
    expect(() => parseImageReference(written)).toThrow(why);
    expect(() => parseImageReference(written)).toThrow(`image reference ${JSON.stringify(written)}`);
  });
});

describe("the helpers around a reference", () => {
  it("looks a manifest up by digest over tag, and latest when neither is written", () => {
    expect(manifestReference(parseImageReference("nginx"))).toBe("latest");
    expect(manifestReference(parseImageReference("nginx:1.27"))).toBe("1.27");
    expect(manifestReference(parseImageReference(`nginx:1.27@${D}`))).toBe(D);
  });

  it("pins the name as written to a digest, dropping the tag", () => {
    expect(pinnedReference("ghcr.io/acme/web:pr-42", D)).toBe(`ghcr.io/acme/web@${D}`);
    expect(pinnedReference("nginx:1.27", D)).toBe(`nginx@${D}`);
    expect(pinnedReference(`registry.example.com:5000/x/y@sha256:${"cd".repeat(32)}`, D)).toBe(
      `registry.example.com:5000/x/y@${D}`,
    );
    expect(() => pinnedReference("nginx", "sha256:nothex")).toThrow("digest");
  });

  it("talks to Docker Hub at registry-1.docker.io and to every other registry at its own host", () => {
    expect(registryApiHost("docker.io")).toBe("registry-1.docker.io");
    expect(registryApiHost("index.docker.io")).toBe("registry-1.docker.io");
    expect(registryApiHost("ghcr.io")).toBe("ghcr.io");
    expect(registryApiHost("127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });
});
