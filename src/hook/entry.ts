import { join, dirname } from 'node:path';
import { DELIVER_SCRIPT_NAME } from '../config.js';
import { hookMain } from './main.js';

// The delivery runtime is installed beside this file.
void hookMain(process.argv[1] ? join(dirname(process.argv[1]), DELIVER_SCRIPT_NAME) : undefined);
