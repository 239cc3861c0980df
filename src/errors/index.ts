export { REASONS, reasonInfo, isReasonCode, type ReasonCode, type ReasonInfo } from './reasons.js';
export { AirlockError, isAirlockError } from './airlock-error.js';
export { fileErrorWords, unreadableFile } from './file-error.js';
