import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLOOR } from '../../src/core/node-floor.js';

describe('the Node floor', () => {
  it("is what package.json's engines.node asks for", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines?: { node?: string } };
    expect(pkg.engines?.node).toBe(`>=${NODE_FLOOR}`);
  });
});
