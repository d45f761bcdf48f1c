import { measureRow, report, speedup } from '../harness';

/**
 * A self-check of the harness: a JSON.parse floor against the same work with
 * an extra copy. Run it to see the table and file format.
 */
const payload = JSON.stringify({ id: 'evt_1', data: { object: { amount: 1000, currency: 'eur', tags: ['a', 'b'] } } });
const rows = [
  await measureRow('floor JSON.parse', () => JSON.parse(payload)),
  await measureRow('JSON.parse + structuredClone', () => structuredClone(JSON.parse(payload))),
];
report('harness', rows, [
  {
    label: 'floor faster than the copy',
    measured: (r) => speedup(r, 'floor JSON.parse', 'JSON.parse + structuredClone'),
    met: (v) => v > 1,
  },
]);
