/**
 * `scanpay scanners set LANE SOURCE…`: changes which scanners a lane of a provisioned (or
 * demo) device reads, without an activation code. The lane's list is replaced, never
 * appended to; `none` leaves the lane without a scanner. Each SOURCE is checked for syntax
 * before anything is written, and config.json keeps everything else it holds.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createSource } from '../../drivers/create-source.ts';
import { readAgentFile } from '../agent-file.ts';
import { writeFileAtomic } from '../atomic-file.ts';
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { ScanpayError } from '../errors.ts';
import { ensureHome } from '../home.ts';

type Lanes = Array<{ id: string; scanners: string[] }>;

export interface LaneChange {
  lane: string;
  before: string[] | undefined;
  after: string[];
  path: string;
}

/** Replaces `lane`'s scanners in config.json (adding the lane if it is new); validates first, writes atomically. */
export function setLaneScanners(home: string, lane: string, sources: string[]): LaneChange {
  const specs = sources.length === 1 && sources[0] === 'none' ? [] : sources;
  // Only the syntax: the device may be plugged in later; `scanpay doctor` opens it.
  for (const spec of specs) createSource(spec, { clock: systemClock });
  const path = join(home, 'config.json');
  const config = (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}) as { lanes?: Lanes };
  const lanes: Lanes = config.lanes?.length ? config.lanes : loadConfig(home).lanes.map((l) => ({ ...l }));
  const existing = lanes.find((l) => l.id === lane);
  const before = existing?.scanners;
  if (existing) existing.scanners = specs;
  else lanes.push({ id: lane, scanners: specs });
  // Validated as a whole before it is written: a bad lane id never reaches the file.
  const candidate = { ...config, lanes };
  const text = `${JSON.stringify(candidate, null, 2)}\n`;
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  writeFileAtomic(path, text, 0o600);
  try {
    loadConfig(home);
  } catch (e) {
    if (previous === undefined) rmSync(path, { force: true });
    else writeFileAtomic(path, previous, 0o600);
    throw e;
  }
  return { lane, before, after: specs, path };
}

/** What the technician reads after a change. */
export function describeChange(c: LaneChange, agentPid: number | undefined): string[] {
  const now = c.after.length ? c.after.join(', ') : 'none (no scanner: only a POS that sends the code, `scanpay pay --code`, can take payments on this lane)';
  return [
    `lane ${c.lane} scanners: ${now}${c.before === undefined ? ' (new lane)' : c.before.length ? ` (was: ${c.before.join(', ')})` : ' (was: none)'}`,
    `saved in ${c.path}`,
    agentPid
      ? `the running agent (pid ${agentPid}) reads scanners when it starts: restart it (systemctl restart scanpay, or Ctrl-C and scanpay run)`
      : 'the agent uses it when it starts (systemctl start scanpay, or scanpay run)',
    ...c.after.map((s) => `check it: scanpay scanners listen ${s}   then: scanpay doctor`),
  ];
}

export function registerScannersSet(scanners: Command): void {
  scanners
    .command('set')
    .description('replace the scanners of lane LANE (no activation code needed): e.g. `scanpay scanners set 1 serial:/dev/ttyACM0`; `none` for no scanner')
    .argument('<lane>', 'the lane id, e.g. 1')
    .argument('<source...>', 'one or more SOURCE specs (`scanpay scanners` lists them; docs/scanners.md), or none')
    .action((lane: string, sources: string[]) => {
      if (sources.includes('none') && sources.length > 1) throw new ScanpayError('SCAN_SOURCE_SPEC_INVALID', { message: '"none" means no scanner: give it alone, or give only SOURCE specs' });
      const home = ensureHome();
      const change = setLaneScanners(home, lane, sources);
      for (const l of describeChange(change, readAgentFile(home)?.pid)) process.stdout.write(`${l}\n`);
    });
}
