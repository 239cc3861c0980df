import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig, type ConfigFile } from '../../../src/config/index.js';
import { renderSysctl, sizing } from '../../../src/install/index.js';

function config(text: string): ConfigFile {
  const result = parseConfig(text, 'airlock.yaml');
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  return result.config.file;
}

/** key → value of the settings (comments left out). */
function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([a-z0-9_.-]+) = (.*)$/.exec(line);
    if (match) out.set(match[1]!, match[2]!);
  }
  return out;
}

describe('renderSysctl()', () => {
  const file = config('');

  test('the settings the connection target needs', () => {
    const s = settings(renderSysctl(file, sizing(file), undefined));
    assert.deepEqual(Object.fromEntries(s), {
      'net.core.somaxconn': '4096',
      'net.ipv4.ip_local_port_range': '10240 65535',
      'net.ipv4.tcp_fin_timeout': '15',
      'fs.file-max': '1048576',
    });
  });

  test('raises fs.nr_open when the service needs more than the kernel default', () => {
    const big = config('limits: { maxConnections: 600000 }\n');
    const s = settings(renderSysctl(big, sizing(big), undefined));
    assert.equal(s.get('fs.nr_open'), '1201152');
    assert.equal(s.get('fs.file-max'), String(2 * 1_201_152));
  });

  test('keeps listener and admin ports inside the ephemeral range out of it', () => {
    const inRange = config(
      'listeners: ["0.0.0.0:3128", "0.0.0.0:13128"]\nadmin: { listen: "127.0.0.1:19090" }\n',
    );
    const s = settings(renderSysctl(inRange, sizing(inRange), undefined));
    assert.equal(s.get('net.ipv4.ip_local_reserved_ports'), '13128,19090');
    assert.equal(
      settings(renderSysctl(file, sizing(file), undefined)).has('net.ipv4.ip_local_reserved_ports'),
      false,
    );
  });

  test('never lowers a limit the kernel already has higher', () => {
    const kernel = {
      current: { 'fs.file-max': '9223372036854775807', 'net.core.somaxconn': '4096' },
      existingFile: null,
    };
    const text = renderSysctl(file, sizing(file), kernel);
    const s = settings(text);
    assert.equal(s.has('fs.file-max'), false);
    assert.equal(s.has('net.core.somaxconn'), false);
    assert.match(
      text,
      /# fs\.file-max: the kernel already has 9223372036854775807 \(at least 1048576\), left alone/,
    );
    assert.equal(s.get('net.ipv4.tcp_fin_timeout'), '15', 'not a raise-only setting');
  });

  test('raises a limit that is too low', () => {
    const s = settings(
      renderSysctl(file, sizing(file), { current: { 'net.core.somaxconn': '128' }, existingFile: null }),
    );
    assert.equal(s.get('net.core.somaxconn'), '4096');
  });

  test('a second run writes the same file: a key an earlier install set is kept', () => {
    // First run: the kernel had a low file-max, so the line was written and applied.
    const first = renderSysctl(file, sizing(file), {
      current: { 'fs.file-max': '100000' },
      existingFile: null,
    });
    // Second run: the kernel now has the value the first run set.
    const second = renderSysctl(file, sizing(file), {
      current: { 'fs.file-max': '1048576' },
      existingFile: first,
    });
    assert.equal(second, first);
    // And when the first run left it alone, so does the second.
    const kernel = { 'fs.file-max': '9223372036854775807' };
    const a = renderSysctl(file, sizing(file), { current: kernel, existingFile: null });
    const b = renderSysctl(file, sizing(file), { current: kernel, existingFile: a });
    assert.equal(b, a);
  });
});
