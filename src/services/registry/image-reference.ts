/**
 * Image references as Docker and the kubelet read them (distribution's `reference` grammar and its normalization):
 *
 *   nginx                                  → docker.io / library/nginx, tag latest
 *   ghcr.io/acme/web:pr-42                 → ghcr.io / acme/web, tag pr-42
 *   registry.example.com:5000/x/y@sha256:… → registry.example.com:5000 / x/y, by digest
 *
 * The first path component is a registry host when it contains "." or ":", is "localhost", or has an upper-case
 * letter (repository paths are lower case); otherwise the image is on Docker Hub, where a single-component name is
 * an official image under `library/`. `index.docker.io` is Docker Hub too. Pure functions, no I/O.
 */

/** Docker's tag grammar. */
export const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;
/** A content digest (`algorithm:hex`); sha256 and sha512 must have their exact hex lengths. */
export const DIGEST_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;
const MAX_NAME = 255;

const DOCKER_HUB = "docker.io";
/** Where Docker Hub's registry API answers (docker.io itself is a website). */
const DOCKER_HUB_API = "registry-1.docker.io";

export interface ImageReference {
  /** Registry host (with port, if any), normalized: `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry: `library/nginx`, `acme/web`. */
  repository: string;
  /** The tag, if written (`latest` is implied when neither tag nor digest is). */
  tag?: string;
  /** The digest, if written (`sha256:…`); it wins over the tag, as for the kubelet. */
  digest?: string;
  /** The name exactly as written, without tag or digest (`nginx`, `ghcr.io/acme/web`). */
  name: string;
}

class ImageReferenceError extends Error {
  override name = "ImageReferenceError";
}

const fail = (ref: string, why: string): never => {
  throw new ImageReferenceError(`image reference ${JSON.stringify(ref)}: ${why}`);
};

function checkDigest(ref: string, digest: string): void {
  if (!DIGEST_PATTERN.test(digest)) fail(ref, `digest "${digest}" is not algorithm:hex`);
  const [algorithm, hex] = digest.split(":") as [string, string];
  const want = algorithm === "sha256" ? 64 : algorithm === "sha512" ? 128 : undefined;
  if (want !== undefined && hex.length !== want) fail(ref, `a ${algorithm} digest has ${want} hex digits`);
}

/** Split a name into registry host and the rest, as Docker does (see the header). */
function splitRegistry(name: string): { registry: string; path: string } {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const isHost = slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
  if (!isHost) return { registry: DOCKER_HUB, path: name };
  return { registry: normalizeRegistryHost(first), path: name.slice(slash + 1) };
}

/** `index.docker.io`, `registry-1.docker.io` and `docker.io` are all Docker Hub; other hosts lower-cased. */
export function normalizeRegistryHost(host: string): string {
  const h = host.toLowerCase();
  return h === "index.docker.io" || h === DOCKER_HUB_API ? DOCKER_HUB : h;
}

/** Parse and normalize an image reference; throws ImageReferenceError saying what is wrong. */
export function parseImageReference(ref: string): ImageReference {
  if (typeof ref !== "string" || ref.trim() === "") fail(String(ref), "empty");
  if (ref !== ref.trim() || /\s/.test(ref)) fail(ref, "contains whitespace");
  const at = ref.indexOf("@");
  const beforeDigest = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  if (digest !== undefined) checkDigest(ref, digest);
  const lastSlash = beforeDigest.lastIndexOf("/");
  const lastColon = beforeDigest.lastIndexOf(":");
  const hasTag = lastColon > lastSlash;
  const name = hasTag ? beforeDigest.slice(0, lastColon) : beforeDigest;
  const tag = hasTag ? beforeDigest.slice(lastColon + 1) : undefined;
  if (tag !== undefined && !TAG_PATTERN.test(tag)) fail(ref, `tag "${tag}" is not a valid tag`);
  if (name === "") fail(ref, "no repository name");
  const { registry, path } = splitRegistry(name);
  if (registry !== DOCKER_HUB && !HOST.test(registry)) fail(ref, `registry host "${registry}" is not a valid host`);
  if (path === "") fail(ref, "no repository name after the registry host");
  if (path !== path.toLowerCase()) fail(ref, "repository name must be lower case");
  for (const component of path.split("/")) {
    if (!PATH_COMPONENT.test(component)) fail(ref, `repository path component "${component}" is not valid`);
  }
  const repository = registry === DOCKER_HUB && !path.includes("/") ? `library/${path}` : path;
  if (repository.length > MAX_NAME) fail(ref, `repository name is longer than ${MAX_NAME} characters`);
  return { registry, repository, name, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** What the manifest URL names: the digest if there is one, else the tag, else `latest`. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/** The fully qualified repository: `docker.io/library/nginx`. */
function canonicalRepository(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The fully qualified reference: `docker.io/library/nginx:latest`, `ghcr.io/acme/web@sha256:…`. */
export function canonicalReference(ref: ImageReference): string {
  const suffix = ref.digest ? `@${ref.digest}` : `:${ref.tag ?? "latest"}`;
  return `${canonicalRepository(ref)}${ref.tag && ref.digest ? `:${ref.tag}` : ""}${suffix}`;
}

/** The name as written plus what was asked for (`nginx:1.27`, `ghcr.io/acme/web@sha256:…`): for people. */
export function displayReference(ref: ImageReference): string {
  return `${ref.name}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/**
 * The reference to run: the name as written, pinned by digest (`ghcr.io/acme/web@sha256:…`); the tag is dropped
 * (keep it in an annotation for people). Throws when `digest` is not a digest.
 */
export function pinnedReference(ref: ImageReference | string, digest: string): string {
  const parsed = typeof ref === "string" ? parseImageReference(ref) : ref;
  checkDigest(`${parsed.name}@${digest}`, digest);
  return `${parsed.name}@${digest}`;
}

/** Where a registry's API answers: Docker Hub's is `registry-1.docker.io`, every other registry is its own host. */
export function registryApiHost(registry: string): string {
  return normalizeRegistryHost(registry) === DOCKER_HUB ? DOCKER_HUB_API : registry;
}
