import { supervise, type ServeOptions } from '../../supervisor/index.js';

/** `airlock serve`: the options main.ts parsed, handed to the supervisor. */
export function serve(options: ServeOptions): Promise<number> {
  return supervise(options);
}
