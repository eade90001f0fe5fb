import type { FieldError } from "../manifest/index.js";

/** The closed set of error codes the API answers with. */
export type ErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "ALREADY_EXISTS"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "INVALID"
  | "TOO_MANY_REQUESTS"
  | "INTERNAL_SERVER_ERROR"
  | "SERVICE_UNAVAILABLE";

export function codeToStatus(code: ErrorCode): 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503 {
  switch (code) {
    case "BAD_REQUEST":
      return 400;
    case "UNAUTHORIZED":
      return 401;
    case "FORBIDDEN":
      return 403;
    case "NOT_FOUND":
      return 404;
    case "METHOD_NOT_ALLOWED":
      return 405;
    case "ALREADY_EXISTS":
    case "CONFLICT":
      return 409;
    case "PAYLOAD_TOO_LARGE":
      return 413;
    case "UNSUPPORTED_MEDIA_TYPE":
      return 415;
    case "INVALID":
      return 422;
    case "TOO_MANY_REQUESTS":
      return 429;
    case "INTERNAL_SERVER_ERROR":
      return 500;
    case "SERVICE_UNAVAILABLE":
      return 503;
  }
}

/** The Kubernetes `Status.reason` for each code, so Kubernetes clients read our errors natively. */
export function codeToReason(code: ErrorCode): string {
  const reasons: Record<ErrorCode, string> = {
    BAD_REQUEST: "BadRequest",
    UNAUTHORIZED: "Unauthorized",
    FORBIDDEN: "Forbidden",
    NOT_FOUND: "NotFound",
    METHOD_NOT_ALLOWED: "MethodNotAllowed",
    ALREADY_EXISTS: "AlreadyExists",
    CONFLICT: "Conflict",
    PAYLOAD_TOO_LARGE: "RequestEntityTooLarge",
    UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
    INVALID: "Invalid",
    TOO_MANY_REQUESTS: "TooManyRequests",
    INTERNAL_SERVER_ERROR: "InternalError",
    SERVICE_UNAVAILABLE: "ServiceUnavailable",
  };
  return reasons[code];
}

/** One reason of a refusal, as a Kubernetes `Status` cause (e.g. `ExceededQuota` on `cpu`). */
export interface ErrorCause {
  reason: string;
  message: string;
  field?: string;
}

/**
 * The one error the API throws. `fields` carries every offending field with its
 * path; `causes`, when a refusal is not about fields (a quota), its reasons.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { kind?: string; name?: string; fields?: FieldError[]; causes?: ErrorCause[] } = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** One message naming every field error, with its path (and document, for multi-document files). */
export function fieldErrorsMessage(errors: FieldError[]): string {
  return errors
    .map(
      (e) => `${e.document !== undefined ? `document ${e.document}: ` : ""}${e.path ? `${e.path}: ` : ""}${e.message}`,
    )
    .join("; ");
}
