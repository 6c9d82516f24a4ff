/**
 * `scanpay doctor [--json]`: runs every check of agent/doctor.ts against this machine and
 * prints one line each (`PASS|WARN|FAIL  name  detail  → fix`). Exit status 1 when any
 * check fails. The real implementations of the doctor's dependencies are bound here.
 */
import { readdirSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:tls';
import type { Command } from 'commander';
import { createSource } from '../../drivers/create-source.ts';
import { hidError, listHidDevices } from '../../drivers/hid/hid-device.ts';
import { listSerialPorts, serialError } from '../../drivers/serial/serial-port.ts';
import { isScanpayError } from '../errors.ts';
import { readAgentFile } from '../agent-file.ts';
import { systemClock } from '../clock.ts';
import { runDoctor, type Check, type DoctorDeps, type NativeModule, type SystemPiece } from '../doctor.ts';
import { ensureHome } from '../home.ts';
import { PosClient } from './pos-client.ts';

const require = createRequire(import.meta.url);

/** Where scanners appear: CDC ACM and USB-serial ttys, and raw HID nodes. */
const SCANNER_NODE = /^(ttyACM|ttyUSB|hidraw)\d+$/;

function tlsCertificate(url: URL): Promise<{ validTo: number; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    // Not rejecting untrusted certificates here so the check can say why one is untrusted.
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), servername: url.hostname, rejectUnauthorized: false, timeout: 5_000 }, () => {
      const cert = socket.getPeerCertificate();
      resolve({ validTo: Date.parse(cert.valid_to), authorized: socket.authorized, ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}) });
      socket.end();
    });
    socket.once('timeout', () => socket.destroy(new Error('no TLS handshake within 5 s')));
    socket.once('error', reject);
  });
}

function loadNative(name: NativeModule): void {
  if (name === 'better-sqlite3') {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    new Database(':memory:').close();
  } else if (name === 'serialport') {
    // Requiring the binding package loads its .node file.
    require('@serialport/bindings-cpp');
  } else {
    require('node-hid');
  }
}

function nativeFix(name: NativeModule, e: unknown): string {
  if (name === 'serialport') {
    const mapped = serialError(e, '(binding)');
    return mapped.code === 'SCAN_NATIVE_LIBRARY_MISSING' ? mapped.message : 'npm rebuild @serialport/bindings-cpp (needs apt-get install build-essential python3)';
  }
  if (name === 'node-hid') {
    const mapped = hidError(e);
    return mapped.code === 'SCAN_NATIVE_LIBRARY_MISSING' ? mapped.message : 'npm rebuild node-hid (needs apt-get install build-essential libusb-1.0-0-dev libudev-dev)';
  }
  return 'npm rebuild better-sqlite3 (needs apt-get install build-essential python3)';
}

/** The agent's scanner statuses when `scanpay run` is up on this home, else undefined. */
async function agentScanners(home: string): Promise<Array<{ source: string; status: string }> | undefined> {
  if (!readAgentFile(home)) return undefined;
  try {
    const info = await PosClient.forHome(home).request<{ lanes: Array<{ scanners: Array<{ source: string; status: string }> }> }>('GET', '/v1/agent');
    return info.lanes.flatMap((l) => l.scanners);
  } catch {
    // A stale agent.json after a power cut: nobody holds the devices.
    return undefined;
  }
}

/** The running agent's device alarms (GET /v1/agent `deviceAlarms`: a journal it cannot write, a wrong clock), else undefined. */
async function agentAlarms(home: string): Promise<string[] | undefined> {
  if (!readAgentFile(home)) return undefined;
  try {
    return (await PosClient.forHome(home).request<{ deviceAlarms?: string[] }>('GET', '/v1/agent')).deviceAlarms ?? [];
  } catch {
    return undefined;
  }
}

async function openAndClose(spec: string): Promise<void> {
  const source = createSource(spec, { clock: systemClock });
  await source.open();
  await source.close();
}

/** What listing devices, as `scanpay scanners` does, finds missing on this machine. */
async function missingSystemPieces(): Promise<Array<{ piece: SystemPiece; fix: string }>> {
  const probe = async (piece: SystemPiece, list: () => Promise<unknown>, mentions: RegExp) => {
    try {
      await list();
      return [];
    } catch (e) {
      return isScanpayError(e, 'SCAN_NATIVE_LIBRARY_MISSING') && mentions.test(e.message) ? [{ piece, fix: e.message }] : [];
    }
  };
  return (await Promise.all([probe('udevadm', listSerialPorts, /udevadm/), probe('libusb', listHidDevices, /libusb/)])).flat();
}

export function realDoctorDeps(home: string): DoctorDeps {
  return {
    home,
    clock: systemClock,
    deviceNodes: () => readdirSync('/dev').filter((n) => SCANNER_NODE.test(n)).map((n) => `/dev/${n}`),
    openSource: openAndClose,
    agentScanners: () => agentScanners(home),
    agentAlarms: () => agentAlarms(home),
    freeBytes: (path) => {
      const s = statfsSync(path);
      return s.bavail * s.bsize;
    },
    tlsCertificate,
    loadNative,
    nativeFix,
    missingSystemPieces,
  };
}

export function formatCheck(c: Check): string {
  return `${c.status.toUpperCase()}  ${c.name}  ${c.detail}${c.fix ? `  → ${c.fix}` : ''}`;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check configuration, identity, journal, disk, backend, TLS, clock, scanners, queue, permissions and native modules; exit 1 when a check fails')
    .option('--json', 'print the checks as JSON')
    .action(async (o: { json?: boolean }) => {
      const checks = await runDoctor(realDoctorDeps(ensureHome()));
      process.stdout.write(o.json ? `${JSON.stringify({ checks }, null, 2)}\n` : checks.map((c) => `${formatCheck(c)}\n`).join(''));
      process.exitCode = checks.some((c) => c.status === 'fail') ? 1 : 0;
    });
}
