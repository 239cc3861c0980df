import { createRequire } from 'node:module';
import type { SonicBoom as SonicBoomClass } from 'sonic-boom';

/** sonic-boom (CommonJS; the module is the class), loaded without the ESM translator: see README.md in this folder. */
export const SonicBoom = createRequire(import.meta.url)('sonic-boom') as typeof SonicBoomClass;
export type SonicBoom = SonicBoomClass;
