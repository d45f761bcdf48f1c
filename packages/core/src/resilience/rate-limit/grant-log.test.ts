import { describe, expect, it } from 'vitest';
import { GrantLog } from './grant-log';

describe('GrantLog', () => {
  it('counts grants for one interval, merges grants of the same millisecond, and grows past its capacity', () => {
    const log = new GrantLog(2);
    for (let t = 0; t < 10; t++) log.add(t, 1);
    log.add(9, 2);
    expect(log.count).toBe(10);
    expect(log.used).toBe(12);
    log.prune(1005, 1000);
    expect(log.count).toBe(4); // 6, 7, 8, 9
    expect(log.used).toBe(6);
  });

  it('availableAt: when enough weight has expired for the next grant', () => {
    const log = new GrantLog();
    log.add(0, 2);
    log.add(100, 2);
    log.add(200, 1);
    expect(log.availableAt(5, 10, 1000)).toBe(Number.NEGATIVE_INFINITY);
    expect(log.availableAt(6, 10, 1000)).toBe(1000);
    expect(log.availableAt(8, 10, 1000)).toBe(1100);
    expect(log.availableAt(11, 10, 1000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('usedSince reads retained grants that already left the window, and forgets them after `retain`', () => {
    const log = new GrantLog(2);
    log.retain = 200;
    log.add(0, 1);
    log.add(100, 1);
    log.add(900, 1);
    log.prune(1150, 1000);
    expect(log.used).toBe(1);
    expect(log.usedSince(50)).toBe(2);
    expect(log.usedSince(-1)).toBe(3);
    // the ring grows with retained entries inside it
    for (let t = 1000; t < 1010; t++) log.add(t, 1);
    expect(log.usedSince(-1)).toBe(13);
    log.prune(1400, 1000);
    expect(log.usedSince(-1)).toBe(11); // 0 and 100 are forgotten
  });
});
