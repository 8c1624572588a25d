// The native-messaging protocol spoken with gatehouse-host, mirrored from
// native-host/PROTOCOL.md. The error codes are append-only there; keep this table in step.

export const HOST_NAME = 'org.gatehouse.host';
export const PROTOCOL_VERSION = 1;

/** Error codes the host may answer with ({ok: false, error: {code, name, message}}). */
export const HOST_ERRORS = Object.freeze({
  // Filled in from native-host/PROTOCOL.md.
});

/**
 * Failures on the extension's side of the wire, which never reach the host. They have no
 * numeric code (code: null) so they can never collide with the host's table.
 */
export const TRANSPORT = Object.freeze({
  notInstalled: 'host_not_installed',
  forbidden: 'host_forbidden',
  failedToStart: 'host_failed_to_start',
  exited: 'host_exited',
  disconnected: 'host_disconnected',
  timeout: 'host_timeout',
  badVersion: 'host_bad_version',
});

/** The stable name for a numeric code, or `error_<code>` for one this build does not know. */
export function errorName(code) {
  for (const [name, value] of Object.entries(HOST_ERRORS)) if (value === code) return name;
  return `error_${code}`;
}
