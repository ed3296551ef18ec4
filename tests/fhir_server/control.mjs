// Test-control state: the bearer token the FHIR endpoints demand, queued faults, and a log of the FHIR
// requests received (method, path, whether a valid token came with them; never the token itself).
import { timingSafeEqual } from 'node:crypto';

const MAX_LOG = 10000;

// Errors in a control request body: answered with 400.
export class ControlError extends Error {
  constructor(message) {
    super(message);
    this.status = 400;
  }
}

export class ControlState {
  constructor({ token }) {
    this.initialToken = token ?? null;
    this.token = this.initialToken;
    this.faults = [];
    this.requests = [];
    this.nextFaultId = 1;
    this.nextSeq = 1;
  }

  reset() {
    this.token = this.initialToken;
    this.faults = [];
    this.requests = [];
  }

  setToken(token) {
    if (token !== null && (typeof token !== 'string' || token === '')) {
      throw new ControlError('token must be a non-empty string or null');
    }
    this.token = token;
  }

  // 'none' when no token is configured, else 'valid' / 'invalid' / 'missing'.
  authState(header) {
    if (this.token === null) return 'none';
    if (typeof header !== 'string' || header === '') return 'missing';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match) return 'invalid';
    const given = Buffer.from(match[1]);
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'invalid';
  }

  addFault(spec) {
    const fault = parseFault(spec);
    fault.id = this.nextFaultId++;
    this.faults.push(fault);
    return fault;
  }

  // The first queued fault that matches the request is consumed (count decremented) and returned.
  takeFault(method, relPath, query = '') {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.method === null || fault.method === method) &&
        relPath.startsWith(fault.path) &&
        (fault.query === null || query.includes(fault.query)),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index];
    if (fault.count > 0) {
      fault.count -= 1;
      if (fault.count === 0) this.faults.splice(index, 1);
    }
    return fault;
  }

  record(entry) {
    const record = { seq: this.nextSeq++, ...entry };
    this.requests.push(record);
    if (this.requests.length > MAX_LOG) this.requests.shift();
    return record;
  }
}

// A fault: {"status": 503} answers with that status; {"delayMs": 2000} waits before answering (normally,
// or with `status`); {"body": "...", "contentType": "..."} replaces the body. `count` (default 1, -1 =
// until cleared) limits how many requests it hits; `method` and `path` (prefix of the path below the FHIR
// base, e.g. "Observation") and `query` (text the query string must contain, e.g. "_offset=200": one page
// of a paged search) restrict which requests it hits.
function parseFault(spec) {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ControlError('fault must be a JSON object');
  }
  const known = new Set(['status', 'delayMs', 'count', 'method', 'path', 'query', 'body', 'contentType']);
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) throw new ControlError(`unknown fault field ${key}`);
  }
  const status = spec.status ?? null;
  if (status !== null && !(Number.isInteger(status) && status >= 200 && status <= 599)) {
    throw new ControlError('status must be an integer HTTP status');
  }
  const delayMs = spec.delayMs ?? 0;
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > 120000) {
    throw new ControlError('delayMs must be an integer between 0 and 120000');
  }
  const count = spec.count ?? 1;
  if (!Number.isInteger(count) || (count < 1 && count !== -1)) throw new ControlError('count must be >= 1 or -1');
  if (status === null && delayMs === 0) throw new ControlError('a fault needs a status or a delayMs');
  if (spec.query !== undefined && (typeof spec.query !== 'string' || spec.query === '')) {
    throw new ControlError('query must be a non-empty string');
  }
  if (spec.body !== undefined && typeof spec.body !== 'string') throw new ControlError('body must be a string');
  if (spec.body !== undefined && status === null) throw new ControlError('body needs a status');
  return {
    status,
    delayMs,
    count,
    method: spec.method ? String(spec.method).toUpperCase() : null,
    path: spec.path ? String(spec.path).replace(/^\/+/, '') : '',
    query: spec.query ?? null,
    body: spec.body ?? null,
    contentType: spec.contentType ?? 'application/fhir+json',
  };
}
