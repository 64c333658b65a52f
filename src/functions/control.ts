/** The composition root of `control`, the GRIP control API: the Lambda entry and local mode both call it. */
import { randomUUID } from 'node:crypto';
import type { ControlHandler } from '../handlers/aws-events.js';
import { makeControlHandler } from '../handlers/control.js';
import type { FunctionResources } from './resources.js';

export function composeControl(r: FunctionResources<'control'>): ControlHandler {
  const { queue, clock, log, metrics } = r;
  const config = { key: r.gripKey, gripSigIssuer: r.gripSigIssuer, maxTokenLifetimeSeconds: r.settings.controlTokenMaxLifetimeSeconds };
  return makeControlHandler({ queue, clock, log, metrics, newId: randomUUID, config }, r.afterEach);
}
