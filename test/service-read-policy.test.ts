import { planRead, ReplicaView } from '../service/src/db/read-policy';

const replica = (name: string, healthy: boolean, replayLsn: string | null = '0/10'): ReplicaView => ({ name, healthy, replayLsn });
const two = [replica('a:5432', true, '0/10'), replica('b:5432', true, '0/30')];

test('the primary policy sends every read to the primary', () => {
  expect(planRead('primary', two, 0)).toEqual({ target: 'primary', reason: 'policy' });
});

test('reads go round-robin over the healthy replicas, skipping the unhealthy', () => {
  const three = [...two, replica('c:5432', false)];
  expect([0, 1, 2, 3].map(turn => planRead('replicas', three, turn))).toEqual([
    { target: 'replica', replica: 'a:5432' }, { target: 'replica', replica: 'b:5432' },
    { target: 'replica', replica: 'a:5432' }, { target: 'replica', replica: 'b:5432' },
  ]);
});

test('without replicas, or with none healthy, reads go to the primary and say why', () => {
  expect(planRead('replicas', [], 0)).toEqual({ target: 'primary', reason: 'no-replicas-configured' });
  expect(planRead('replicas', [replica('a:5432', false)], 0)).toEqual({ target: 'primary', reason: 'no-healthy-replica' });
});

test('a read with a token goes to a replica known to have replayed it, whatever the turn', () => {
  expect(planRead('replicas', two, 0, '0/20')).toEqual({ target: 'replica', replica: 'b:5432' });
  expect(planRead('replicas', two, 1, '0/10')).toEqual({ target: 'replica', replica: 'b:5432' });
  expect(planRead('replicas', two, 0, '0/10')).toEqual({ target: 'replica', replica: 'a:5432' });
});

test('a token no replica is known to have reached makes the healthy ones candidates for a live check, in turn order', () => {
  expect(planRead('replicas', two, 1, '1/0')).toEqual({ target: 'check', candidates: ['b:5432', 'a:5432'] });
  expect(planRead('replicas', [replica('a:5432', true, null)], 0, '0/1')).toEqual({ target: 'check', candidates: ['a:5432'] });
});
