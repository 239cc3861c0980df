export { REASONS, reasonInfo, isReasonCode, type ReasonCode, type ReasonInfo } from './reasons.js';
export { AirlockError, isAirlockError } from './airlock-error.js';
