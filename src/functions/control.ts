/** The composition root of `control`, the GRIP control API: the Lambda entry and local mode both call it. */
import { randomUUID } from 'node:crypto';
import type { ControlHandler } from '../handlers/aws-events.js';
import { makeControlHandler } from '../handlers/control.js';
import type { FunctionResources } from './resources.js';

export function composeControl(r: FunctionResources<'control'>): ControlHandler {
  const { queue, clock, log, metrics } = r;
  return makeControlHandler({ queue, clock, log, metrics, newId: randomUUID, config: { key: r.gripKey } }, r.afterEach);
}
