/** Exit codes scripts and CI can branch on. */
export const EXIT = {
  OK: 0,
  /** The script ran and failed (dryrun), or the host refused the request. */
  FAILED: 1,
  /** Bad command line: unknown command or option, missing argument, invalid --input JSON. */
  USAGE: 2,
  /** A script did not bundle (syntax error, forbidden import, too large). */
  BUNDLE: 3,
  /** The host could not be reached or answered with a server error. */
  HOST: 4,
  /** The host refused the key (401/403). */
  AUTH: 5,
  /** The user declined a confirmation (deploy). */
  DECLINED: 6,
  /** A resource is taken: the API port is in use, or another `ferry dev` holds the data folder. */
  BUSY: 7,
  /** `deploy --partial`: the scripts that could be deployed were; some failed (each is named). */
  PARTIAL: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
