import { describe, expect, it } from 'vitest';
import { uploadRequests } from '../../src/core/signed-upload.js';

const URL_ = 'https://storage.example.com/root/tr-1/traces.json?sig=abc&se=2026';
const headers = [{ name: 'x-amz-server-side-encryption', value: 'AES256' }];

describe('uploadRequests', () => {
  it('AWS and GCP: one PUT of the bytes with the signed headers', () => {
    for (const type of ['AWS_PRESIGNED_URL', 'GCP_SIGNED_URL']) {
      expect(uploadRequests({ signed_uri: URL_, type, headers }, 10)).toEqual([
        { method: 'PUT', url: URL_, headers: { 'x-amz-server-side-encryption': 'AES256' }, withBody: true },
      ]);
    }
  });

  it('Azure Blob: Put Blob as a block blob', () => {
    expect(
      uploadRequests({ signed_uri: URL_, type: 'AZURE_SAS_URI', headers: [{ name: 'x-ms-version', value: '2021-08-06' }] }, 10),
    ).toEqual([{ method: 'PUT', url: URL_, headers: { 'x-ms-version': '2021-08-06', 'x-ms-blob-type': 'BlockBlob' }, withBody: true }]);
  });

  it('ADLS Gen2: create the file, then append at 0 and flush; the signature is kept', () => {
    const plan = uploadRequests(
      {
        signed_uri: URL_,
        type: 'AZURE_ADLS_GEN2_SAS_URI',
        headers: [
          { name: 'x-ms-blob-type', value: 'BlockBlob' },
          { name: 'x-ms-version', value: 'v' },
        ],
      },
      10,
    );
    expect(Array.isArray(plan)).toBe(true);
    const [create, append] = plan as Exclude<typeof plan, { error: string }>;
    expect(create).toMatchObject({ method: 'PUT', headers: { 'x-ms-version': 'v' }, withBody: false });
    expect(new URL(create!.url).searchParams.get('resource')).toBe('file');
    expect(new URL(create!.url).searchParams.get('sig')).toBe('abc');
    expect(append).toMatchObject({ method: 'PATCH', withBody: true });
    expect(Object.fromEntries(new URL(append!.url).searchParams)).toEqual({
      sig: 'abc',
      se: '2026',
      action: 'append',
      position: '0',
      flush: 'true',
    });
  });

  it('refuses an unknown kind or a missing URL', () => {
    expect(uploadRequests({ signed_uri: URL_, type: 'SOMETHING_NEW' }, 10)).toMatchObject({
      error: expect.stringContaining('SOMETHING_NEW'),
    });
    expect(uploadRequests({ type: 'AWS_PRESIGNED_URL' }, 10)).toEqual({ error: 'the upload credential has no signed URL' });
  });
});
