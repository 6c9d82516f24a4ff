/** The agent's version, as package.json says: reported in heartbeats and support bundles. */
import { readFileSync } from 'node:fs';

export const AGENT_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
