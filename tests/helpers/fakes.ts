/**
 * Hand-written in-memory implementations of every port in `src/domain/ports.ts`, for unit tests of the pure
 * domain and the handlers, one module per port (in `fakes/`). They record what they were asked, can be told to
 * fail, and follow the ports' contracts (and DynamoDB's index order) closely enough that a test passing here
 * means something.
 */
export * from './fakes/time.js';
export * from './fakes/log.js';
export * from './fakes/failures.js';
export * from './fakes/store.js';
export * from './fakes/queue.js';
export * from './fakes/sender.js';
export * from './fakes/backend.js';
export * from './fakes/history.js';
