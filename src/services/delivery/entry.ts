import { deliveryMain } from './main.js';

void deliveryMain();
