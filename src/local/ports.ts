import { createServer } from 'node:net';

/** One port local mode is asked to listen on, with the setting that names it (`WS_PORT`). */
export interface NamedPort {
  readonly setting: string;
  readonly port: number;
}

/**
 * Every problem with the ports local mode is about to take, at once: two settings naming the same port, and each
 * port something else already listens on. 0 ("any free port") never conflicts. Empty when all is well.
 *
 * A port can still be taken between this check and the real bind; the start then fails on that one port.
 */
export async function portProblems(host: string, ports: readonly NamedPort[]): Promise<string[]> {
  const problems: string[] = [];
  const fixed = ports.filter((p) => p.port !== 0);
  const byPort = new Map<number, string[]>();
  for (const p of fixed) byPort.set(p.port, [...(byPort.get(p.port) ?? []), p.setting]);
  for (const [port, settings] of byPort) {
    if (settings.length > 1) problems.push(`${settings.join(' and ')} both name port ${port}`);
  }
  const busy = await Promise.all([...byPort.keys()].map(async (port) => ((await isFree(host, port)) ? null : port)));
  for (const port of busy) {
    if (port !== null) problems.push(`port ${port} (${byPort.get(port)?.join(', ')}) is already in use on ${host}`);
  }
  return problems;
}

function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}
