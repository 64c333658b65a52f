/** The composition root of `control`, the GRIP control API: the Lambda entry and local mode both call it. */
import { randomUUID } from 'node:crypto';
import type { ControlHandler } from '../handlers/aws-events.js';
import { makeControlHandler } from '../handlers/control.js';
import { RateLimitedLog } from '../adapters/rate-limited-log.js';
import type { FunctionResources } from './resources.js';

export function composeControl(r: FunctionResources<'control'>): ControlHandler {
  const { queue, history, clock, metrics } = r;
  // Every unauthenticated request writes a line: an attacker must not be able to fill the disk with them.
  const log = new RateLimitedLog(r.log, { clock });
  const config = { key: r.gripKey, gripSigIssuer: r.gripSigIssuer, maxTokenLifetimeSeconds: r.settings.controlTokenMaxLifetimeSeconds };
  return makeControlHandler({ queue, history, clock, log, metrics, newId: randomUUID, config }, r.afterEach);
}
