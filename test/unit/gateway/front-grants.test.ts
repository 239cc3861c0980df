import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission } from '../../../src/gateway/admission.js';
import { FrontGrants, GRANT_TTL_MS, type GrantedConnect } from '../../../src/gateway/front-grants.js';
import type { GatewayLimits } from '../../../src/gateway/parts.js';
import type { Policy } from '../../../src/policy/index.js';

const LIMITS: GatewayLimits = {
  maxConnections: 100,
  maxConnectionsPerClient: 8,
  maxRequestHeadBytes: 65536,
  upstreamSocketsPerOrigin: 10,
  upstreamIdleSocketsPerOrigin: 10,
  upstreamSockets: 100,
  maxRequestsPerConnection: 100,
  newConnectionsPerClientPerSecond: 1000,
};

function grantFor(peer: string, client = peer): GrantedConnect {
  return {
    peer,
    client,
    head: Buffer.from('CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n'),
    policy: {} as Policy,
    address: { address: '192.0.2.10', family: 4, pinned: false },
    port: 443,
    connectTimeoutMs: 10_000,
    peek: true,
    idleMs: 600_000,
    passName: 'a.test',
  };
}

/** Grants over a real Admission and an addon that writes down what it was given. */
function setup(limits: GatewayLimits = LIMITS): {
  grants: FrontGrants;
  admission: Admission;
  calls: unknown[][];
} {
  const admission = new Admission(limits, null);
  const calls: unknown[][] = [];
  const grants = new FrontGrants(
    { frontGrant: (...args: unknown[]) => void calls.push(args) },
    admission,
    () => 3,
  );
  return { grants, admission, calls };
}

test('a grant reserves a slot and hands the front the connect it repeats', () => {
  const { grants, admission, calls } = setup();
  const grant = grantFor('10.0.0.1');
  assert.equal(grants.offer(grant), true);
  assert.deepEqual([admission.connections, admission.reserved], [0, 1], 'a slot is reserved');
  assert.deepEqual(calls, [
    [3, '10.0.0.1', grant.head, '192.0.2.10', 443, 10_000, true, 600_000, 'a.test', GRANT_TTL_MS],
  ]);
  assert.equal(grants.offer(grantFor('10.0.0.1')), false, 'one grant per client at a time');
  assert.equal(calls.length, 1);
  assert.equal(admission.reserved, 1);
});

test('used by an admitted connection, gone or cleared: the reserved slot goes back', () => {
  const { grants, admission } = setup();
  grants.offer(grantFor('10.0.0.1'));
  grants.offer(grantFor('10.0.0.2'));
  grants.offer(grantFor('10.0.0.3'));
  assert.equal(admission.reserved, 3);
  assert.equal(admission.admit('10.0.0.1', false), null, 'the connection that comes on the grant');
  assert.equal(grants.used('10.0.0.1', true)?.peer, '10.0.0.1');
  assert.deepEqual(
    [admission.connections, admission.reserved],
    [1, 2],
    'its own slot stays, the reservation went',
  );
  assert.equal(grants.used('10.0.0.1', true), undefined, 'a grant is used once');
  grants.gone('10.0.0.2');
  assert.equal(admission.reserved, 1);
  grants.gone('10.0.0.2');
  assert.equal(admission.reserved, 1, 'gone twice gives back once');
  grants.clear();
  assert.deepEqual([admission.connections, admission.reserved, grants.size], [1, 0, 0]);
});

test('used by a connection refused at accept: the slot goes back, the rate token stays spent', () => {
  const { grants, admission } = setup({ ...LIMITS, newConnectionsPerClientPerSecond: 4 });
  // A bucket of 4 tokens: a grant takes one only while 2 are left after it.
  assert.equal(grants.offer(grantFor('10.0.0.1')), true);
  assert.equal(grants.used('10.0.0.1', false)?.peer, '10.0.0.1');
  assert.deepEqual([admission.connections, admission.reserved], [0, 0]);
  assert.equal(grants.offer(grantFor('10.0.0.1')), true, '3 tokens left: one more grant');
  grants.gone('10.0.0.1');
  assert.equal(grants.offer(grantFor('10.0.0.1')), true, 'the gone grant refunded its token');
  grants.used('10.0.0.1', false);
  assert.equal(grants.offer(grantFor('10.0.0.1')), false, 'two tokens spent: 2 left, too few');
  assert.deepEqual([admission.connections, admission.reserved], [0, 0]);
});

test('no grant while the client or the process holds half its limit', () => {
  const { grants, admission } = setup({ ...LIMITS, maxConnections: 10 });
  for (let i = 0; i < 3; i++) admission.admit('10.0.0.1', false);
  assert.equal(grants.offer(grantFor('10.0.0.1')), true, '3 open + 1 reserved = half of 8');
  grants.gone('10.0.0.1');
  admission.admit('10.0.0.1', false);
  assert.equal(grants.offer(grantFor('10.0.0.1')), false, '4 open + 1 would pass half of 8');
  assert.deepEqual([admission.connections, admission.reserved], [4, 0]);
  assert.equal(grants.offer(grantFor('10.0.0.2')), true, 'another client: 5 of 10 in all');
  assert.equal(grants.offer(grantFor('10.0.0.3')), false, 'the process would pass half of 10');
  assert.deepEqual([admission.connections, admission.reserved], [4, 1]);
  for (let i = 0; i < 5; i++) assert.equal(admission.admit('10.0.0.4', false), null);
  assert.deepEqual([admission.connections, admission.reserved], [9, 1]);
  assert.equal(
    admission.admit('10.0.0.4', false),
    'LIMIT_CONNECTIONS',
    'a reservation counts against the limits',
  );
});

test('a client whose granted connect failed is marked until a grant is made for it again', () => {
  const { grants } = setup();
  grants.broken('10.0.0.1');
  assert.equal(grants.isBroken('10.0.0.1'), true);
  assert.equal(grants.isBroken('10.0.0.2'), false);
  grants.offer(grantFor('10.0.0.1'));
  assert.equal(grants.isBroken('10.0.0.1'), false);
});
