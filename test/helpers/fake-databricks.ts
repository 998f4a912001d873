/**
 * A Databricks workspace on loopback, for the parts of one that cannot exist
 * on CI: the token check, the signed-in user, and the cloud storage that
 * holds each trace's data behind signed URLs. MLflow's own REST API behind
 * it is a real `mlflow server`: experiments and trace rows are forwarded
 * there, so the traces end up in a real MLflow store.
 *
 * What it enforces, as a workspace does:
 * - every /api call needs `Authorization: Bearer <token>` (else 401);
 * - experiment names are workspace paths (a bare name is refused, 400);
 * - trace data goes through `credentials-for-data-upload`: a signed URL that
 *   only accepts the cloud's own request shape, with the signed headers,
 *   and that only that trace's key can use.
 * Reading a trace back sets `mlflow.artifactLocation` to the workspace's
 * `dbfs:/databricks/mlflow-tracking/...` form, so that MLflow's own
 * Databricks client (DatabricksArtifactRepository) reads the data as it
 * does from a real workspace.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type CloudKind = 'AWS_PRESIGNED_URL' | 'GCP_SIGNED_URL' | 'AZURE_SAS_URI' | 'AZURE_ADLS_GEN2_SAS_URI';

export interface StorageRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  bytes: number;
}

export interface FakeDatabricks {
  url: string;
  token: string;
  userName: string;
  /** The cloud the next credentials are for. */
  cloud: CloudKind;
  /** Committed trace data by trace id (`tr-…`). */
  blobs: Map<string, Buffer>;
  /** Every request to the storage side, in order. */
  storageRequests: StorageRequest[];
  /** Every /api request: method and path (no query), in order. */
  apiRequests: { method: string; path: string }[];
  /** While true, the storage side answers 503 (a cloud outage). */
  storageDown: boolean;
  close(): Promise<void>;
}

const SIGNED_HEADERS: Record<CloudKind, Record<string, string>> = {
  AWS_PRESIGNED_URL: { 'x-amz-server-side-encryption': 'AES256' },
  GCP_SIGNED_URL: { 'x-goog-content-length-range': '0,104857600' },
  AZURE_SAS_URI: { 'x-ms-version': '2021-08-06' },
  AZURE_ADLS_GEN2_SAS_URI: { 'x-ms-version': '2021-08-06' },
};

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startFakeDatabricks(options: {
  mlflowUrl: string;
  token?: string;
  userName?: string;
  cloud?: CloudKind;
}): Promise<FakeDatabricks> {
  const secret = randomBytes(16).toString('hex');
  const sign = (traceId: string, mode: 'r' | 'w'): string => createHmac('sha256', secret).update(`${mode}:${traceId}`).digest('hex');
  const pending = new Map<string, Buffer>();
  const fake: Omit<FakeDatabricks, 'url' | 'close'> = {
    token: options.token ?? `dapi${randomBytes(16).toString('hex')}`,
    userName: options.userName ?? 'dev@example.com',
    cloud: options.cloud ?? 'AWS_PRESIGNED_URL',
    blobs: new Map(),
    storageRequests: [],
    apiRequests: [],
    storageDown: false,
  };
  let base = '';

  async function forward(req: IncomingMessage, body: Buffer, rewrite?: (json: any) => void): Promise<{ status: number; text: string }> {
    const res = await fetch(`${options.mlflowUrl}${req.url}`, {
      method: req.method,
      headers: { 'content-type': 'application/json' },
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: body as Uint8Array<ArrayBuffer> }),
    });
    let text = await res.text();
    if (rewrite && res.ok) {
      const json = JSON.parse(text);
      rewrite(json);
      text = JSON.stringify(json);
    }
    return { status: res.status, text };
  }

  function credential(traceId: string, mode: 'r' | 'w'): unknown {
    return {
      credential_info: {
        signed_uri: `${base}/storage/${encodeURIComponent(traceId)}/traces.json?sig=${sign(traceId, mode)}&mode=${mode}`,
        type: fake.cloud,
        headers: Object.entries(SIGNED_HEADERS[fake.cloud]).map(([name, value]) => ({ name, value })),
      },
    };
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    fake.apiRequests.push({ method: req.method ?? 'GET', path });
    if (req.headers.authorization !== `Bearer ${fake.token}`) {
      sendJson(res, 401, { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' });
      return;
    }
    const body = await readBody(req);
    if (path === '/api/2.0/preview/scim/v2/Me') {
      sendJson(res, 200, { userName: fake.userName, active: true });
      return;
    }
    const name = path.endsWith('/experiments/get-by-name')
      ? query.get('experiment_name')
      : path.endsWith('/experiments/create')
        ? JSON.parse(body.toString() || '{}').name
        : undefined;
    if (name !== undefined && name !== null && !String(name).startsWith('/')) {
      sendJson(res, 400, {
        error_code: 'INVALID_PARAMETER_VALUE',
        message: `Got an invalid experiment name '${name}'. An experiment name must be an absolute path within the Databricks workspace.`,
      });
      return;
    }
    const credentials = /^\/api\/2\.0\/mlflow\/traces\/([^/]+)\/credentials-for-data-(upload|download)$/.exec(path);
    if (credentials) {
      sendJson(res, 200, credential(decodeURIComponent(credentials[1]!), credentials[2] === 'upload' ? 'w' : 'r'));
      return;
    }
    // A trace read back: where a workspace keeps its data (the dbfs form MLflow's client resolves).
    const getTrace = req.method === 'GET' && /^\/api\/3\.0\/mlflow\/traces\/tr-[0-9a-f]+$/.test(path);
    const forwarded = await forward(
      req,
      body,
      getTrace
        ? (json) => {
            const info = json.trace?.trace_info;
            if (!info) return;
            const experimentId = info.trace_location?.mlflow_experiment?.experiment_id;
            info.tags = {
              ...info.tags,
              'mlflow.artifactLocation': `dbfs:/databricks/mlflow-tracking/${experimentId}/${info.trace_id}/artifacts`,
            };
            delete info.tags['mlflow.trace.spansLocation'];
          }
        : undefined,
    );
    res.writeHead(forwarded.status, { 'content-type': 'application/json' });
    res.end(forwarded.text);
  }

  async function storage(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const body = await readBody(req);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    fake.storageRequests.push({ method: req.method ?? '', path, query: Object.fromEntries(query), headers, bytes: body.length });
    if (fake.storageDown) {
      res.writeHead(503).end('service unavailable');
      return;
    }
    const match = /^\/storage\/([^/]+)\/traces\.json$/.exec(path);
    const traceId = match ? decodeURIComponent(match[1]!) : '';
    const mode = query.get('mode') === 'r' ? 'r' : 'w';
    if (!match || query.get('sig') !== sign(traceId, mode)) {
      res.writeHead(403).end('signature does not match');
      return;
    }
    for (const [name, value] of Object.entries(SIGNED_HEADERS[fake.cloud])) {
      if (headers[name] !== value) {
        res.writeHead(403).end(`signed header ${name} missing`);
        return;
      }
    }
    if (mode === 'r') {
      const blob = req.method === 'GET' ? fake.blobs.get(traceId) : undefined;
      if (!blob) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(blob);
      return;
    }
    const bad = (why: string): void => {
      res.writeHead(400).end(why);
    };
    switch (fake.cloud) {
      case 'AWS_PRESIGNED_URL':
      case 'GCP_SIGNED_URL':
        if (req.method !== 'PUT') return bad('PUT only');
        fake.blobs.set(traceId, body);
        res.writeHead(200).end();
        return;
      case 'AZURE_SAS_URI':
        if (req.method !== 'PUT' || headers['x-ms-blob-type'] !== 'BlockBlob') return bad('Put Blob needs x-ms-blob-type: BlockBlob');
        fake.blobs.set(traceId, body);
        res.writeHead(201).end();
        return;
      case 'AZURE_ADLS_GEN2_SAS_URI': {
        if (req.method === 'PUT' && query.get('resource') === 'file') {
          if (body.length > 0) return bad('create takes no body');
          pending.set(traceId, Buffer.alloc(0));
          res.writeHead(201).end();
          return;
        }
        const current = pending.get(traceId);
        if (req.method !== 'PATCH' || current === undefined) return bad('create the file first');
        if (query.get('action') === 'append') {
          if (Number(query.get('position')) !== current.length) return bad('position does not match the file length');
          const next = Buffer.concat([current, body]);
          pending.set(traceId, next);
          if (query.get('flush') === 'true') fake.blobs.set(traceId, next);
          res.writeHead(202).end();
          return;
        }
        if (query.get('action') === 'flush' && Number(query.get('position')) === current.length) {
          fake.blobs.set(traceId, current);
          res.writeHead(200).end();
          return;
        }
        return bad('unknown ADLS operation');
      }
    }
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const handle = url.pathname.startsWith('/storage/') ? storage : url.pathname.startsWith('/api/') ? api : undefined;
    if (!handle) {
      res.writeHead(404).end();
      return;
    }
    handle(req, res, url.pathname, url.searchParams).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(error.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(fake, {
    url: base,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as FakeDatabricks;
}
