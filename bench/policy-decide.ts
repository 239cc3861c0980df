/**
 * Micro-benchmark of the policy engine: decisions per second at 10 and 10,000 host rules.
 * The claim it backs: lookup cost does not grow with the number of rules (a label trie).
 * Run: npm run bench:policy. Prints a Markdown table of medians over rounds.
 */
import { compilePolicy, decide, type DestinationSpec, type Policy } from '../src/policy/index.js';

const ROUNDS = 7;
const DECISIONS_PER_ROUND = 200_000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function label(rand: () => number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  const len = 3 + Math.floor(rand() * 10);
  for (let i = 0; i < len; i++) out += chars[Math.floor(rand() * chars.length)];
  return out;
}

function build(ruleCount: number): { policy: Policy; queries: string[] } {
  const rand = rng(ruleCount);
  const origin = { source: 'config', where: 'bench' } as const;
  const destinations: DestinationSpec[] = [];
  const names: string[] = [];
  for (let i = 0; i < ruleCount; i++) {
    const name = `${label(rand)}.${label(rand)}.${['com', 'net', 'org'][i % 3]}`;
    const kind = i % 3;
    destinations.push({ host: kind === 0 ? name : kind === 1 ? `.${name}` : `*.${name}`, origin });
    names.push(name);
  }
  const compiled = compilePolicy({
    sources: [{ cidr: '10.0.0.0/8', origin }],
    destinations,
    ports: { connect: [443], http: [80] },
  });
  if (!compiled.ok) throw new Error(compiled.errors.join('\n'));
  // Half hits (a subdomain of a rule), half misses with the same shape.
  const queries: string[] = [];
  for (let i = 0; i < 1024; i++) {
    const base = names[Math.floor(rand() * names.length)]!;
    queries.push(i % 2 === 0 ? `x${i}.${base}` : `${label(rand)}.${label(rand)}.com`);
  }
  return { policy: compiled.policy, queries };
}

function measure(policy: Policy, queries: string[]): number {
  let allowed = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < DECISIONS_PER_ROUND; i++) {
    const d = decide(policy, { source: '10.1.2.3', method: 'CONNECT', host: queries[i & 1023]!, port: 443 });
    if (d.verdict === 'allow') allowed++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (allowed === 0) throw new Error('no query matched: the benchmark is broken');
  return DECISIONS_PER_ROUND / seconds;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sets = [10, 10_000].map((n) => ({ n, ...build(n) }));
for (const s of sets) measure(s.policy, s.queries); // warm-up
const results = new Map<number, number[]>(sets.map((s) => [s.n, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const s of sets) results.get(s.n)!.push(measure(s.policy, s.queries)); // interleaved
}
const base = median(results.get(10)!);
console.log(`| rules | decisions/s (median of ${ROUNDS}) | min–max | vs 10 rules |`);
console.log('|---:|---:|---:|---:|');
for (const s of sets) {
  const xs = results.get(s.n)!;
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(
    `| ${s.n.toLocaleString('en-US')} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} | ${(median(xs) / base).toFixed(2)}× |`,
  );
}
console.log(
  `\nnode ${process.version}, ${DECISIONS_PER_ROUND.toLocaleString('en-US')} decisions per round (half hits, half misses), source ACL included.`,
);
