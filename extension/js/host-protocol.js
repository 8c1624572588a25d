// The native-messaging protocol spoken with gatehouse-host, mirrored from
// native-host/PROTOCOL.md (ErrorCode in native-host/src/protocol.rs). The codes are append-only
// there; keep this table in step.

export const HOST_NAME = 'org.gatehouse.host';
export const PROTOCOL_VERSION = 1;

/** Error codes the host may answer with ({ok: false, error: {code, name, message}}). */
export const HOST_ERRORS = Object.freeze({
  invalid_json: 1, // the frame is not JSON, or not a JSON object
  invalid_utf8: 2, // the frame is not UTF-8
  frame_too_large: 3, // over the host's inbound cap; the body was skipped
  unknown_type: 4, // `type` names no request this host knows
  invalid_field: 5, // a field is missing or wrong; the message names it
  unsupported_version: 6, // `v` is not a version this host speaks
  io_error: 7, // reading or writing a file failed
  token_malformed: 8, // a token is not a JWS compact string
  token_too_large: 9, // a token is over the size cap
  unavailable: 10, // this platform cannot provide the fact asked for
  internal: 11, // a bug in the host
  reply_too_large: 12, // the reply would be over the 1 MiB limit towards the browser
  timeout: 13, // the request did not finish in time (a file it needs did not answer); the host goes on
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
