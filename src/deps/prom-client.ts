import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

/** prom-client (CommonJS), loaded without the ESM translator: see README.md in this folder. */
const promClient = createRequire(import.meta.url)('prom-client') as typeof PromClient;

export const { collectDefaultMetrics } = promClient;
export const Registry = promClient.Registry;
export type Registry = PromClient.Registry;
export const Counter = promClient.Counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = promClient.Gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const AggregatorRegistry = promClient.AggregatorRegistry;
export type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';
