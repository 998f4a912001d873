/**
 * Put a trace's data where a Databricks workspace keeps it: ask the
 * workspace for a signed URL (the credential), then send the bytes there
 * with the requests signed-upload.ts plans for that cloud.
 */
import { traceDataJson } from '../core/trace-data.js';
import { mlflowTraceId, type TraceModel } from '../core/trace-model.js';
import { uploadRequests } from '../core/signed-upload.js';
import { HttpError, httpRequestText } from './http.js';
import type { MlflowClient } from './mlflow.js';

/** Rejects with an HttpError carrying the storage's status when a request fails. */
export async function uploadTraceData(client: MlflowClient, trace: TraceModel, remainingMs: () => number): Promise<void> {
  const credential = await client.traceUploadCredential(mlflowTraceId(trace.traceId), remainingMs());
  const body = Buffer.from(traceDataJson(trace), 'utf8');
  const requests = uploadRequests(credential, body.length);
  if ('error' in requests) throw new HttpError(requests.error);
  for (const request of requests) {
    const res = await httpRequestText(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.withBody ? body : '',
      timeoutMs: remainingMs(),
    });
    if (res.status < 200 || res.status >= 300) {
      // The signed URL is a secret until it expires: only its host goes into the message.
      throw new HttpError(
        `${request.method} trace data to ${new URL(request.url).host} → HTTP ${res.status}: ${res.body.slice(0, 200)}`,
        res.status,
      );
    }
  }
}
