/**
 * Preloaded with `node --require` (NODE_OPTIONS) into a CLI run by the crash
 * tests: counts the run's file operations that change the disk (a file
 * opened for writing, a write, a rename, a removal, a new folder) and
 * SIGKILLs the process just before the k-th one, where k is
 * CLAUDE_MLFLOW_TEST_KILL_AT. Child processes do not inherit it. With
 * CLAUDE_MLFLOW_TEST_COUNT_FILE_OPS set, it appends each operation to that
 * file instead, so that a test knows how many there are.
 */
'use strict';
const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');

const killAt = Number(process.env.CLAUDE_MLFLOW_TEST_KILL_AT || 0);
const countFile = process.env.CLAUDE_MLFLOW_TEST_COUNT_FILE_OPS;
delete process.env.NODE_OPTIONS;
delete process.env.CLAUDE_MLFLOW_TEST_KILL_AT;
delete process.env.CLAUDE_MLFLOW_TEST_COUNT_FILE_OPS;

const original = {
  appendFileSync: fs.appendFileSync,
  writeSync: fs.writeSync,
};
let seen = 0;

function step(name, target) {
  seen += 1;
  if (countFile) original.appendFileSync(countFile, `${seen} ${name} ${typeof target === 'string' ? target : ''}\n`);
  if (killAt > 0 && seen === killAt) process.kill(process.pid, 'SIGKILL');
}

function writes(flags) {
  return typeof flags === 'string'
    ? /[wax+]/.test(flags)
    : typeof flags === 'number' && (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT)) !== 0;
}

const wrap = (name, when = () => true) => {
  const fn = fs[name];
  fs[name] = function (...args) {
    if (when(...args)) step(name, args[0]);
    return fn.apply(this, args);
  };
};

wrap('openSync', (_path, flags) => writes(flags));
wrap('writeFileSync');
wrap('writeSync');
wrap('appendFileSync');
wrap('renameSync');
wrap('copyFileSync');
wrap('unlinkSync');
wrap('rmSync');
wrap('rmdirSync');
wrap('mkdirSync');
wrap('chmodSync');
syncBuiltinESMExports();
