import type { ConnectionStore, Log } from './ports.js';

/**
 * Forgets connections that are gone (a 410 from the sender) or being refused: deletes their records and every
 * subscription, so fan-out stops paying for them. Best effort: a failed delete is logged, never returned, because
 * the items expire on their own (TTL) and the caller has nothing better to do.
 *
 * The one way every part of the server drops connections it learns are gone: the fan-out worker (channel and
 * connections jobs, keep-alive heartbeats) and the session logic.
 *
 * @example
 * if (report.gone.length > 0) await forgetConnections(deps, report.gone, 'gone (410) during a delivery');
 * @returns whether the delete succeeded.
 */
export async function forgetConnections(
  deps: { readonly connections: ConnectionStore; readonly log: Log },
  connectionIds: readonly string[],
  why: string,
  level: 'warn' | 'error' = 'warn',
  ifConnectedAt?: ReadonlyMap<string, number>,
): Promise<boolean> {
  if (connectionIds.length === 0) return true;
  const deleted = await deps.connections.deleteConnections(connectionIds, ifConnectedAt !== undefined ? { ifConnectedAt } : {});
  if (!deleted.ok) {
    deps.log[level]('could not delete connection items; their TTL will remove them', {
      why,
      ...(connectionIds.length === 1 ? { connectionId: connectionIds[0] } : { count: connectionIds.length }),
      error: deleted.error.kind,
      detail: deleted.error.message,
    });
  }
  return deleted.ok;
}
