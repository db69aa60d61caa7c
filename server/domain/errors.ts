// Why a service refused, in the service's own words; the HTTP edge and the CLI each say it their own way.

/** One input field and what is wrong with it (the HTTP edge lists them in a problem's `errors`). */
export interface FieldError {
  field: string;
  message: string;
}

/** A refusal the caller can understand and act on; its message is meant for people, never a stack trace. */
export class DomainError extends Error {
  readonly errors: FieldError[];
  /** Extra members of the answer (a problem's extension members), for a caller that acts on them: a cursor to resend from. */
  readonly extensions: Record<string, unknown>;
  constructor(message: string, errors: FieldError[] = [], extensions: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.errors = errors;
    this.extensions = extensions;
  }
}

/** The thing asked for does not exist. */
export class NotFound extends DomainError {}

/** The request clashes with what is there now: a taken name, a stale version, a task already closed. */
export class Conflict extends DomainError {}

/** The input breaks a rule; `errors` names the fields when there are any. */
export class Invalid extends DomainError {}

/** The actor may not do this, whoever they are logged in as. */
export class Forbidden extends DomainError {}

/** Well-formed input that cannot be taken as it is: telemetry dated in the future. */
export class Unprocessable extends DomainError {}
