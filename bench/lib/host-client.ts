/** The bench process's side of a host process (`bench/host.ts`): fork it and call its operations. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ops, responseSchema, type OpArgs, type OpName, type OpResult } from './protocol.js';

const HOST_ENTRY = fileURLToPath(new URL('../host.ts', import.meta.url));

export class Host {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void; op: OpName }>();
  #next = 1;
  #exited = false;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (raw: unknown) => {
      const parsed = responseSchema.safeParse(raw);
      if (!parsed.success) return;
      const waiter = this.#pending.get(parsed.data.id);
      if (!waiter) return;
      this.#pending.delete(parsed.data.id);
      if (parsed.data.ok) waiter.resolve(parsed.data.value);
      else waiter.reject(new Error(`host ${waiter.op} failed: ${parsed.data.error}`));
    });
    child.on('exit', (code, signal) => {
      this.#exited = true;
      for (const [, waiter] of this.#pending) waiter.reject(new Error(`host exited (${code ?? signal}) during ${waiter.op}`));
      this.#pending.clear();
    });
    child.on('error', (e) => {
      for (const [, waiter] of this.#pending) waiter.reject(e);
      this.#pending.clear();
    });
  }

  /** Forks a host process (it inherits this process's tsx loader through `execArgv`). */
  static start(): Host {
    const child = fork(HOST_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Host(child);
  }

  async call<K extends OpName>(op: K, args: OpArgs<K>): Promise<OpResult<K>> {
    if (this.#exited) throw new Error(`host has exited; cannot call ${op}`);
    const id = this.#next++;
    const raw = await new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, op });
      this.#child.send({ id, op, args });
    });
    // Parsed by the op's own schema; TypeScript cannot narrow the indexed schema's output to K's by itself.
    return ops[op].result.parse(raw) as OpResult<K>;
  }

  /** Asks the host to stop its services and exit; kills it if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    try {
      await Promise.race([this.call('stop', null), new Promise((r) => setTimeout(r, timeoutMs))]);
    } catch {
      // fall through to the kill below
    }
    const killer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(killer);
  }
}
