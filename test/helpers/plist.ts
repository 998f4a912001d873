/**
 * Validate a launchd plist with a real validator: `plutil -lint` where it
 * exists (macOS), else xmllint against Apple's PropertyList DTD (our copy in
 * test/fixtures/plist), its DOCTYPE resolved to that copy by an XML catalog.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixturesDir } from './fixtures.js';

export const PLIST_DTD = path.join(fixturesDir, 'plist', 'PropertyList-1.0.dtd');

const has = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status !== null;

/** `workDir` receives the XML catalog. */
export function validatePlist(file: string, workDir: string): { tool: string; status: number | null; output: string } {
  if (has('plutil', ['-help'])) {
    const r = spawnSync('plutil', ['-lint', file], { encoding: 'utf8' });
    return { tool: 'plutil', status: r.status, output: `${r.stdout}${r.stderr}` };
  }
  const catalog = path.join(workDir, 'catalog.xml');
  const dtdUri = pathToFileURL(PLIST_DTD).href;
  writeFileSync(
    catalog,
    `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <public publicId="-//Apple//DTD PLIST 1.0//EN" uri="${dtdUri}"/>
  <system systemId="http://www.apple.com/DTDs/PropertyList-1.0.dtd" uri="${dtdUri}"/>
</catalog>
`,
  );
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--dtdvalid', PLIST_DTD, file], {
    encoding: 'utf8',
    env: { ...process.env, XML_CATALOG_FILES: catalog },
  });
  return { tool: 'xmllint', status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
