/**
 * The oldest Node.js we run on: doctor's node check holds Node to it, and
 * package.json's engines.node says the same (test/core/node-floor.test.ts
 * keeps the two equal).
 */
export const NODE_FLOOR = '20.6.0';
