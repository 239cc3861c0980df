import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { detectInputKind, parseInput } from '../../../src/advisor/index.js';
import { isPromptLine } from '../../../src/advisor/parse-result.js';
import { bypassEntryFor } from '../../../src/advisor/proxy-address.js';

/**
 * Runs one of the advisor's functions on a text in a worker thread, so that a test can give up
 * on it. A regular expression that backtracks for minutes holds the thread it runs on: on the
 * test's own thread no timeout could end the test, which would hang instead of failing.
 */

const TASKS = {
  detectInputKind: (text: string) => detectInputKind(text),
  parseInput: (text: string) => parseInput({ name: 'pasted.txt', text }),
  isPromptLine: (text: string) => isPromptLine(text),
  /** The bypass entry `text` against a Defender host name. */
  bypassEntryFor: (text: string) => bypassEntryFor('winatp-gw-cus.microsoft.com', [text]),
};

export type Task = keyof typeof TASKS;

/**
 * What `task` returns for `text`; an error when it throws, or when it has not finished after
 * `seconds` (the worker is then stopped).
 */
export function inWorker<T extends Task>(
  task: T,
  text: string,
  seconds: number,
): Promise<ReturnType<(typeof TASKS)[T]>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { task, text } });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`${task} did not finish within ${seconds} s`));
    }, seconds * 1000);
    worker.once('message', (result: ReturnType<(typeof TASKS)[T]>) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(result);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

if (!isMainThread) {
  const { task, text } = workerData as { task: Task; text: string };
  parentPort?.postMessage(TASKS[task](text));
}
