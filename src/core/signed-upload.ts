/**
 * The requests that put one small file at a signed cloud-storage URL, by the
 * credential type Databricks hands out (ArtifactCredentialType in MLflow's
 * databricks_artifacts.proto), as MLflow's DatabricksArtifactRepository
 * uploads a trace's data. Pure.
 */

export type CredentialType = 'AWS_PRESIGNED_URL' | 'GCP_SIGNED_URL' | 'AZURE_SAS_URI' | 'AZURE_ADLS_GEN2_SAS_URI';

export interface CredentialInfo {
  signed_uri?: string;
  type?: string;
  headers?: { name?: string; value?: string }[];
}

export interface UploadRequest {
  method: 'PUT' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  /** Whether the file's bytes are the request body. */
  withBody: boolean;
}

function withQuery(url: string, params: Record<string, string>): string {
  const target = new URL(url);
  for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
  return target.toString();
}

/** The requests in order, or an error text for a credential we cannot use. */
export function uploadRequests(credential: CredentialInfo, size: number): UploadRequest[] | { error: string } {
  const url = credential.signed_uri;
  if (!url || !/^https?:\/\//i.test(url)) return { error: 'the upload credential has no signed URL' };
  const given: Record<string, string> = {};
  for (const header of credential.headers ?? []) if (header.name) given[header.name] = header.value ?? '';
  switch (credential.type) {
    case 'AWS_PRESIGNED_URL':
    case 'GCP_SIGNED_URL':
      return [{ method: 'PUT', url, headers: given, withBody: true }];
    case 'AZURE_SAS_URI':
      // Put Blob: one request for a block blob of this size.
      return [{ method: 'PUT', url, headers: { ...given, 'x-ms-blob-type': 'BlockBlob' }, withBody: true }];
    case 'AZURE_ADLS_GEN2_SAS_URI': {
      // Create the file, then append the bytes and flush them in one call (MLflow's single-chunk path).
      const headers = Object.fromEntries(Object.entries(given).filter(([name]) => name.toLowerCase() !== 'x-ms-blob-type'));
      return [
        { method: 'PUT', url: withQuery(url, { resource: 'file' }), headers, withBody: false },
        { method: 'PATCH', url: withQuery(url, { action: 'append', position: '0', flush: 'true' }), headers, withBody: true },
      ];
    }
    default:
      return {
        error: `the upload credential is of a kind claude-mlflow does not know (${credential.type ?? 'none'}); size ${size} bytes not sent`,
      };
  }
}
