/** Every scenario group, in the order the suite runs them. */
import type { Group } from '../scenario.js';
import { baseline } from './baseline.js';
import { detach } from './detach.js';
import { filters } from './filters.js';
import { keepalive } from './keepalive.js';
import { ordered } from './ordered.js';
import { security } from './security.js';
import { sequencing } from './sequencing.js';
import { woh } from './woh.js';

export const GROUPS: readonly Group[] = [baseline, ordered, filters, sequencing, detach, keepalive, woh, security];
