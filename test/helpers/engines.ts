import { describe } from 'node:test';
import { loadNative } from '../../src/gateway/native.js';
import { requirement } from './skip.js';

/** The default engine (the native front) and JavaScript tunnels (`engine: { tunnels: js, listen: handoff }`). */
export type TunnelEngine = 'default' | 'js';

/** The configuration line that selects `engine` ('' for the default). */
export function engineConfig(engine: TunnelEngine): string {
  return engine === 'js' ? 'engine: { tunnels: js, listen: handoff }' : '';
}

/**
 * The same suite once per engine, named "title (default engine)" and "title (JavaScript
 * tunnels)". The default engine's suite needs the native addon: without it, skipped locally and
 * a failure in CI (see `requirement`).
 */
export function describeEachEngine(title: string, body: (engine: TunnelEngine) => void): void {
  for (const engine of ['default', 'js'] as const) {
    const name = `${title} (${engine === 'js' ? 'JavaScript tunnels' : 'default engine'})`;
    const skip = engine === 'default' ? requirement(name, loadNative().why) : false;
    describe(name, { skip }, () => body(engine));
  }
}
