/** What resolving an image reference answers (see registry-client.ts). */

/** What the manifest HEAD accepts: OCI index, Docker manifest list, OCI manifest, Docker v2 manifest. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

interface ResolutionBase {
  /** The reference as asked (`nginx:1.27`). */
  image: string;
  /** Normalized registry host (`docker.io`). */
  registry: string;
  /** Repository path (`library/nginx`). */
  repository: string;
  /** The tag or digest looked up. */
  reference: string;
}

export interface ImageFound extends ResolutionBase {
  outcome: "found";
  digest: string;
  /** The manifest's media type as the registry sent it (an index for a multi-arch image). */
  mediaType: string;
  /** The name as written, by digest (`ghcr.io/acme/web@sha256:…`): what a container should run. */
  pinned: string;
}

/** 404: not pushed (yet). The caller may wait and retry. */
export interface ImageMissing extends ResolutionBase {
  outcome: "missing";
  status: 404;
  message: string;
}

export interface ImageUnauthorized extends ResolutionBase {
  outcome: "unauthorized";
  status?: number;
  /**
   * Which credential was tried: `anonymous`, `the credential for ghcr.io from Secret previews/regcred (user "bot")`…
   */
  credential: string;
  /** What happened and what to configure. No credential or token in it. */
  message: string;
}

export interface ImageLookupFailed extends ResolutionBase {
  outcome: "error";
  status?: number;
  /** A timeout, a network error, 408, 429 or 5xx: trying again later may help. */
  retryable: boolean;
  /** What was being done and the registry's answer (cut, redacted). */
  message: string;
}

export type ImageResolution = ImageFound | ImageMissing | ImageUnauthorized | ImageLookupFailed;
