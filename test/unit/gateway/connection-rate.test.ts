import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionRate } from '../../../src/gateway/connection-rate.js';

test('a burst up to the rate is admitted, then one per 1/rate seconds', () => {
  let now = 1_000_000;
  const rate = new ConnectionRate(5, () => now);
  for (let i = 0; i < 5; i++) assert.equal(rate.admit('10.0.0.1'), true, `connection ${i}`);
  assert.equal(rate.admit('10.0.0.1'), false);
  assert.equal(rate.admit('10.0.0.2'), true, 'another client has its own bucket');
  now += 200;
  assert.equal(rate.admit('10.0.0.1'), true);
  assert.equal(rate.admit('10.0.0.1'), false);
  now += 10_000;
  for (let i = 0; i < 5; i++)
    assert.equal(rate.admit('10.0.0.1'), true, 'refilled, but never above the burst');
  assert.equal(rate.admit('10.0.0.1'), false);
});

test('quiet clients are forgotten', () => {
  let now = 0;
  const rate = new ConnectionRate(10, () => now);
  for (let i = 0; i < 100; i++) rate.admit(`10.0.${i}.1`);
  assert.equal(rate.size, 100);
  now += 30_000;
  rate.admit('10.9.9.9');
  assert.equal(rate.size, 1);
});

test('a reservation takes a token only from a bucket fuller than `keep`; a refund puts it back', () => {
  const now = 1_000_000;
  const rate = new ConnectionRate(4, () => now);
  assert.equal(rate.admit('10.0.0.1', 3), true, 'a new bucket holds 4: one taken, 3 left');
  assert.equal(rate.admit('10.0.0.1', 2), true, '3 held: one taken, 2 left');
  assert.equal(rate.admit('10.0.0.1', 2), false, 'taking one would leave 1');
  rate.refund('10.0.0.1');
  assert.equal(rate.admit('10.0.0.1', 2), true, 'the refunded token was taken again');
  assert.equal(rate.admit('10.0.0.2', 4), false, 'a new bucket cannot leave 4 after one');
  assert.equal(rate.size, 1, 'a refused reservation makes no bucket');
  for (let i = 0; i < 10; i++) rate.refund('10.0.0.1');
  for (let i = 0; i < 4; i++) assert.equal(rate.admit('10.0.0.1'), true, `connection ${i}`);
  assert.equal(rate.admit('10.0.0.1'), false, 'refunds never fill a bucket past its burst');
});
