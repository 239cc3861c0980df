import { REASONS, type ReasonCode } from './reasons.js';

/**
 * An error a user, a file or the network can cause. It carries a stable code from the
 * reason table; callers branch on `code`, never on the message.
 */
export class AirlockError extends Error {
  readonly code: ReasonCode;

  constructor(code: ReasonCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AirlockError';
    this.code = code;
  }

  get exitCode(): number {
    return REASONS[this.code].exit;
  }
}

export function isAirlockError(value: unknown): value is AirlockError {
  return value instanceof AirlockError;
}
