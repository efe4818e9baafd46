/**
 * `Status` bodies exactly shaped like the real API server's (kind, apiVersion, status, message, reason, details, code).
 */

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

/** Thrown inside the fake; the HTTP layer turns it into a Status body with this code. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }
}

export function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** `deployments.apps` / `pods` — how the real server names a resource in messages. */
export function qualified(plural: string, group: string): string {
  return group ? `${plural}.${group}` : plural;
}

export function notFound(plural: string, group: string, name: string): StatusError {
  return new StatusError(404, "NotFound", `${qualified(plural, group)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
  });
}

export function alreadyExists(plural: string, group: string, name: string): StatusError {
  return new StatusError(409, "AlreadyExists", `${qualified(plural, group)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
  });
}

export function conflict(plural: string, group: string, name: string, why: string): StatusError {
  return new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(plural, group)} "${name}": ${why}`,
    {
      name,
      ...(group ? { group } : {}),
      kind: plural,
    },
  );
}

/** 422 Invalid: `Deployment.apps "Bad" is invalid: metadata.name: Invalid value: "Bad": ...`. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): StatusError {
  const text = causes.map((c) => `${c.field ? `${c.field}: ` : ""}${c.message}`).join(", ");
  const shown = causes.length > 1 ? `[${text}]` : text;
  return new StatusError(422, "Invalid", `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${shown}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes,
  });
}

export function badRequest(message: string): StatusError {
  return new StatusError(400, "BadRequest", message);
}

export function forbidden(
  plural: string,
  group: string,
  name: string,
  why: string,
  causes?: StatusCause[],
): StatusError {
  return new StatusError(403, "Forbidden", `${qualified(plural, group)} "${name}" is forbidden: ${why}`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
    ...(causes ? { causes } : {}),
  });
}

/** The bare 404 the real server gives for a path it does not serve at all (unknown group, version or resource). */
export function pathNotFound(): StatusError {
  return new StatusError(404, "NotFound", "the server could not find the requested resource", {});
}
