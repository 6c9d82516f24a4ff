/** `--protocol` of `run`, `provision`, `sim backend`, `sim run` and the chaos runner. */
import { InvalidArgumentError } from 'commander';
import { PROTOCOLS, type ProtocolName } from '../backend/acquirer-profile.ts';

export function protocolOption(value: string): ProtocolName {
  if (!(PROTOCOLS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
  return value as ProtocolName;
}
