import type { ReasonCode } from '../errors/index.js';

/** Anything in flight that shutdown must wait for or cut: a tunnel or a forwarded exchange. */
export interface Session {
  /** Ends the session at once, logging `reason` as how it ended. */
  abort(reason: ReasonCode): void;
}
