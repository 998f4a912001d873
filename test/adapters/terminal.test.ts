import { describe, expect, it } from 'vitest';
import { isInteractive } from '../../src/adapters/terminal.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('isInteractive: whether a command may ask', () => {
  it('on a terminal (stdin and the output stream), outside CI', () => {
    expect(isInteractive(tty, {}, tty)).toBe(true);
  });

  it('never in CI, even on a terminal', () => {
    expect(isInteractive(tty, { CI: 'true' }, tty)).toBe(false);
    expect(isInteractive(tty, { CI: '1' }, tty)).toBe(false);
  });

  it('an empty CI counts as unset', () => {
    expect(isInteractive(tty, { CI: '' }, tty)).toBe(true);
  });

  it('not when stdin or the output stream is piped', () => {
    expect(isInteractive(pipe, {}, tty)).toBe(false);
    expect(isInteractive(tty, {}, pipe)).toBe(false);
    expect(isInteractive({}, {}, {})).toBe(false);
  });
});
