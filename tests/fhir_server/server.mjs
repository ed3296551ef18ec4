// In-memory FHIR R4 server for the fhir-bonemet tests. Listens on 127.0.0.1 only.
//
//   node server.mjs [--port N] [--token T] [--page-size N] [--max-page-size N] [--exit-with-stdin]
//
// Environment fallbacks: FHIR_SERVER_PORT, FHIR_SERVER_TOKEN. Port 0 (the default) picks a free port.
// Once ready it prints one JSON line on stdout: {"port": 12345, "base": "http://127.0.0.1:12345/fhir"}.
// FHIR base: /fhir. Test control (no token needed, not FHIR): see README.md.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ControlState } from './control.mjs';
import { errorResponse, FhirService, indexDefinitions } from './fhir.mjs';

// Loopback only, deliberately not configurable: this server has no real authentication and holds test data.
const HOST = '127.0.0.1';
const BASE_PATH = '/fhir';
const CONTROL_PATH = '/__control';
const MAX_BODY_BYTES = 64 * 1024 * 1024;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      token: { type: 'string' },
      'page-size': { type: 'string' },
      'max-page-size': { type: 'string' },
      'exit-with-stdin': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const integer = (raw, name, fallback, min, max) => {
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new Error(`${name} must be an integer between ${min} and ${max}`);
    }
    return Number(raw);
  };
  const port = integer(values.port ?? process.env.FHIR_SERVER_PORT, '--port', 0, 0, 65535);
  const pageSize = integer(values['page-size'], '--page-size', 20, 1, 10000);
  const maxPageSize = integer(values['max-page-size'], '--max-page-size', 1000, pageSize, 100000);
  const token = values.token ?? process.env.FHIR_SERVER_TOKEN ?? null;
  return { port, pageSize, maxPageSize, token: token === '' ? null : token, exitWithStdin: values['exit-with-stdin'] };
}

function send(res, response) {
  if (res.writableEnded || res.destroyed) return;
  const isText = typeof response.body === 'string';
  const payload = isText ? response.body : JSON.stringify(response.body);
  const headers = {
    'Content-Type': isText ? response.contentType : 'application/fhir+json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    ...response.headers,
  };
  res.writeHead(response.status, headers);
  res.end(payload);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text) {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error('request body is not valid JSON'), { status: 400 });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function handleFhir(req, url, relPath, body, fhir, control) {
  const query = url.search.startsWith('?') ? url.search.slice(1) : url.search;
  const auth = control.authState(req.headers.authorization);
  const record = control.record({
    method: req.method,
    path: query ? `${relPath}?${query}` : relPath,
    auth,
    ifNoneExist: req.headers['if-none-exist'] ?? null,
    status: null,
  });
  const fault = control.takeFault(req.method, relPath, query);
  if (fault?.delayMs) await sleep(fault.delayMs);
  let response;
  if (fault?.status != null) {
    response =
      fault.body !== null
        ? { status: fault.status, headers: {}, body: fault.body, contentType: fault.contentType }
        : errorResponse(fault.status, fault.status === 401 ? 'login' : 'transient', `Injected fault ${fault.status}`);
  } else if (relPath !== 'metadata' && (auth === 'missing' || auth === 'invalid')) {
    response = errorResponse(401, 'login', 'Missing or invalid bearer token');
  } else {
    response = await fhir.handle(req.method, relPath, url.searchParams, req.headers, parseJson(body));
  }
  if (response.status === 401) response.headers['WWW-Authenticate'] = 'Bearer realm="fhir-test-server"';
  record.status = response.status;
  return response;
}

async function handleControl(req, action, body, fhir, control) {
  const ok = (status, payload) => ({ status, headers: {}, body: payload });
  const route = `${req.method} ${action}`;
  switch (route) {
    case 'POST reset':
      fhir.clear();
      fhir.maxPageSize = fhir.initialMaxPageSize;
      control.reset();
      return ok(200, { reset: true });
    case 'GET requests':
      return ok(200, { requests: control.requests });
    case 'DELETE requests':
      control.requests = [];
      return ok(200, { requests: [] });
    case 'POST faults':
      return ok(201, { fault: control.addFault(parseJson(body) ?? null) }); // throws status 400 when invalid
    case 'GET faults':
      return ok(200, { faults: control.faults });
    case 'DELETE faults':
      control.faults = [];
      return ok(200, { faults: [] });
    case 'PUT token': {
      const payload = parseJson(body);
      control.setToken(payload?.token ?? null);
      return ok(200, { tokenRequired: control.token !== null });
    }
    case 'PUT max-page-size': {
      // Cap every search page at this size (as busy production servers do) until the next reset.
      const size = parseJson(body)?.maxPageSize;
      if (!Number.isInteger(size) || size < 1 || size > 100000) {
        return errorResponse(400, 'invalid', 'maxPageSize must be an integer between 1 and 100000');
      }
      fhir.maxPageSize = size;
      return ok(200, { maxPageSize: size });
    }
    case 'POST load':
      return fhir.load(parseJson(body));
    default:
      return errorResponse(404, 'not-found', `No control endpoint ${route}`);
  }
}

function main() {
  let options;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`fhir test server: ${error.message}\n`);
    process.exit(2);
  }
  const control = new ControlState({ token: options.token });
  // Index the definitions before listening so the first request is served at full speed; the service
  // itself is created once the port is known, because its links carry the absolute base URL.
  indexDefinitions();
  let fhir;
  const server = createServer(async (req, res) => {
    res.on('error', () => {}); // the client may have hung up (timeouts): nothing to do
    try {
      const url = new URL(req.url ?? '/', `http://${HOST}`);
      const body = await readBody(req);
      let response;
      if (fhir === undefined) {
        response = errorResponse(503, 'transient', 'Starting');
      } else if (url.pathname.startsWith(`${CONTROL_PATH}/`)) {
        response = await handleControl(req, url.pathname.slice(CONTROL_PATH.length + 1), body, fhir, control);
      } else if (url.pathname === BASE_PATH || url.pathname.startsWith(`${BASE_PATH}/`)) {
        const relPath = url.pathname.slice(BASE_PATH.length).replace(/^\/+/, '').replace(/\/+$/, '');
        response = await handleFhir(req, url, relPath, body, fhir, control);
      } else {
        response = errorResponse(404, 'not-found', `Nothing at ${url.pathname}; the FHIR base is ${BASE_PATH}`);
      }
      send(res, response);
    } catch (error) {
      const status = error.status ?? 500;
      send(res, errorResponse(status, status === 500 ? 'exception' : 'invalid', error.message));
    }
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  server.listen({ port: options.port, host: HOST, exclusive: true }, () => {
    const address = server.address();
    if (address === null || typeof address === 'string' || address.address !== HOST) {
      process.stderr.write('fhir test server: refusing to run on a non-loopback address\n');
      process.exit(1);
    }
    const base = `http://${HOST}:${address.port}${BASE_PATH}`;
    fhir = new FhirService({ baseUrl: base, pageSize: options.pageSize, maxPageSize: options.maxPageSize });
    process.stdout.write(`${JSON.stringify({ port: address.port, base })}\n`);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (options.exitWithStdin) {
    // The test fixture holds our stdin open; if its process dies, the pipe closes and we go too.
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

main();
