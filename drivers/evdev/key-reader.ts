/**
 * Input events of a keyboard-wedge scanner to scanned codes: key-down events only (the
 * scanner's autorepeat and releases carry nothing), modifiers tracked from their own
 * key events, and the presses typed through the shared Typer with the configured layout.
 */
import type { Layout } from '../keyboard/layouts.ts';
import { Typer, type TypedResult, type WedgeTerminator } from '../keyboard/typer.ts';
import { EV_KEY, KEY_DOWN, KEY_UP, type InputEvent } from './input-events.ts';
import { LINUX_IGNORED, LINUX_MODIFIERS, hidUsage } from './linux-keys.ts';

export class KeyReader {
  readonly #typer: Typer;
  #modifiers = 0;

  constructor(layout: Layout, terminator: WedgeTerminator, maxChars: number) {
    this.#typer = new Typer(layout, terminator, maxChars);
  }

  push(events: InputEvent[]): TypedResult[] {
    const results: TypedResult[] = [];
    for (const e of events) {
      if (e.type !== EV_KEY || LINUX_IGNORED.has(e.code)) continue;
      const modifier = LINUX_MODIFIERS.get(e.code);
      if (modifier !== undefined) {
        if (e.value === KEY_DOWN) this.#modifiers |= modifier;
        else if (e.value === KEY_UP) this.#modifiers &= ~modifier;
        results.push(...this.#typer.modifiers(this.#modifiers));
      } else if (e.value === KEY_DOWN) {
        results.push(...this.#typer.press(hidUsage(e.code)));
      }
    }
    return results;
  }
}
