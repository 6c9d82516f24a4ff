import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_TERMINAL } from '../../simulator/backend/demo-terminal.ts';

const bin = fileURLToPath(new URL('../../agent/bin/scanpay.js', import.meta.url));

describe('scanpay sim backend', () => {
  it('prints where it listens, serves, and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [bin, 'sim', 'backend', '--port', '0', '--seed', '7', '--memory'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = once(child, 'exit');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1] && out.includes('press Ctrl-C')) resolve(m[1]);
      });
      child.once('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    // --port 0 means a free port, not the default: the \`sim\` group's own --port must not swallow it.
    expect(new URL(url).port).not.toBe('8470');
    expect(out).toContain(`${url}/control`);
    expect(out).toContain(DEMO_TERMINAL.terminalId);
    expect(out + err).not.toContain(DEMO_TERMINAL.key.toString());
    expect(await (await fetch(`${url}/control/health`)).json()).toMatchObject({ ok: true });
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(err).toMatch(/"msg":"stopping"/);
  });

  it('refuses a bad port with a message naming the option', async () => {
    const child = spawn(process.execPath, [bin, 'sim', 'backend', '--port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(err).toMatch(/--port must be a whole number from 0 to 65535/);
  });
});
