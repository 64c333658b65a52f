import type { StopSummary } from './start.js';

const n = (count: number): string => count.toLocaleString('en-US');

/** The one line a stop prints: how long, how many clients, and whether the backend heard about each. */
export function stopLine({ clients, backendNotTold, disconnectsDropped, milliseconds }: StopSummary): string {
  const told = clients - backendNotTold - disconnectsDropped;
  const notes = [
    ...(backendNotTold > 0 ? [`${n(backendNotTold)} failed`] : []),
    ...(disconnectsDropped > 0 ? [`${n(disconnectsDropped)} not sent: the stop's time ran out`] : []),
  ];
  const backend =
    clients === 0
      ? ''
      : `; the backend was told about ${told === clients ? 'each' : n(told)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
  return `stopped in ${(milliseconds / 1000).toFixed(1)} s: closed ${n(clients)} client${clients === 1 ? '' : 's'}${backend}.`;
}
