/**
 * What the benchmark reads from /proc: CPU time and memory of a process tree (a proxy with all
 * its workers, coordinators and helpers), and the CPU time the whole machine was busy.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface StatLine {
  readonly ppid: number;
  readonly cpuSeconds: number;
}

function readStat(pid: number): StatLine | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state; ppid is field 4 of stat(5), utime 14 and stime 15.
    return {
      ppid: Number(fields[1]),
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
    };
  } catch {
    return null;
  }
}

/** The process and all its descendants (found through the ppid of every /proc/<pid>/stat). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === null) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  if (!existsSync(`/proc/${root}`)) return [];
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** VmRSS and RssAnon of one process from one read of /proc/PID/status (0 when it is gone). */
function memoryKiB(pid: number): { rss: number; anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (pattern: RegExp): number => Number(pattern.exec(status)?.[1] ?? 0);
    return { rss: field(/VmRSS:\s+(\d+)\s+kB/), anon: field(/RssAnon:\s+(\d+)\s+kB/) };
  } catch {
    return { rss: 0, anon: 0 };
  }
}

function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The command line of a process as one string (Squid names its kids there: "(squid-1)"). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** CPU seconds (utime + stime) of one process, 0 when it is gone. */
export function processCpuSeconds(pid: number): number {
  return readStat(pid)?.cpuSeconds ?? 0;
}

/** Read and write system calls of a process and the bytes they moved (/proc/PID/io). */
export interface ProcessIo {
  readonly reads: number;
  readonly readBytes: number;
  readonly writes: number;
  readonly writeBytes: number;
}

/** Parses /proc/PID/io: syscr, rchar, syscw and wchar (every read and write, sockets included). */
export function parseProcessIo(text: string): ProcessIo {
  const field = (name: string): number =>
    Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    reads: field('syscr'),
    readBytes: field('rchar'),
    writes: field('syscw'),
    writeBytes: field('wchar'),
  };
}

const NO_IO: ProcessIo = { reads: 0, readBytes: 0, writes: 0, writeBytes: 0 };

/** What one process has read and written since it started; zeros when it is gone or not readable. */
export function processIo(pid: number): ProcessIo {
  try {
    return parseProcessIo(readFileSync(`/proc/${pid}/io`, 'utf8'));
  } catch {
    return NO_IO;
  }
}

export interface TreeSample {
  readonly pids: readonly number[];
  /** Sum of VmRSS over the tree. */
  readonly rssKiB: number;
  /** VmRSS per process, in `pids` order. */
  readonly rssPerProcessKiB: readonly number[];
  /**
   * RssAnon per process, in `pids` order: the process's own memory, without the file pages of
   * its binary and libraries (which every process running the same binary shares).
   */
  readonly anonPerProcessKiB: readonly number[];
  /** Sum of utime + stime over the tree (live processes only). */
  readonly cpuSeconds: number;
  /** Open files per process, in `pids` order (only when asked for). */
  readonly openFiles: readonly number[];
}

export function sampleTree(root: number, withFiles = false): TreeSample {
  const pids = processTree(root);
  let cpu = 0;
  const memory = pids.map(memoryKiB);
  const rss = memory.map((m) => m.rss);
  for (const pid of pids) cpu += readStat(pid)?.cpuSeconds ?? 0;
  return {
    pids,
    rssKiB: rss.reduce((n, v) => n + v, 0),
    rssPerProcessKiB: rss,
    anonPerProcessKiB: memory.map((m) => m.anon),
    cpuSeconds: cpu,
    openFiles: withFiles ? pids.map(openFiles) : [],
  };
}

/**
 * CPU-seconds the whole machine has been busy since boot (all cores: user, nice, system, irq,
 * softirq and steal from the first line of /proc/stat); differences over a window say how many
 * cores were busy, whoever used them.
 */
export function parseMachineBusy(procStat: string, ticksPerSecond = CLOCK_TICKS): number {
  const line = procStat.split('\n', 1)[0] ?? '';
  const f = line.trim().split(/\s+/);
  if (f[0] !== 'cpu') return Number.NaN;
  const v = f.slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
  return busy / ticksPerSecond;
}

export function machineBusySeconds(): number {
  try {
    return parseMachineBusy(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/**
 * Inter-processor interrupts that wake a thread on another core, machine-wide since boot: the
 * "RES" (rescheduling) and "CAL" (function call: the kernel queues a wake-up on the target core's
 * list and interrupts it) rows of /proc/interrupts, summed over the cores. A wake-up that stays
 * on the waker's core sends neither. In a virtual machine whose idle cores halt, each one costs a
 * trip through the hypervisor on both sides, which at low concurrency is much of a tunnel's time.
 */
export function parseWakeIpis(interrupts: string): number {
  let total = 0;
  let seen = 0;
  for (const line of interrupts.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'RES:' && f[0] !== 'CAL:') continue;
    seen++;
    // The per-core counts follow the name; the description after them is words.
    for (const v of f.slice(1)) {
      if (!/^\d+$/.test(v)) break;
      total += Number(v);
    }
  }
  return seen === 2 ? total : Number.NaN;
}

export function machineWakeIpis(): number {
  try {
    return parseWakeIpis(readFileSync('/proc/interrupts', 'utf8'));
  } catch {
    return Number.NaN;
  }
}
