import { hookMain } from './main.js';

void hookMain();
