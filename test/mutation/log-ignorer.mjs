// A Stryker ignorer (https://stryker-mutator.io/docs/stryker-js/disable-mutants/#using-an-ignore-plugin):
// no mutants inside a logger call (`log.info(...)`, `this.#log.warn(...)`, `c.log.error(...)`).
// A log line decides nothing about money; what must never be in one (a payment code, a key)
// is checked on every line the whole suite writes (test/support/log-tap.ts), not by mutants.
import { PluginKind, declareClassPlugin } from '@stryker-mutator/api/plugin';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

class LogIgnorer {
  shouldIgnore(path) {
    if (!path.isExpressionStatement()) return undefined;
    const call = path.node.expression;
    if (call.type !== 'CallExpression' || call.callee.type !== 'MemberExpression') return undefined;
    const { object, property } = call.callee;
    if (property.type !== 'Identifier' || !LEVELS.has(property.name)) return undefined;
    const owner = object.type === 'Identifier' ? object.name : object.type === 'MemberExpression' ? (object.property.name ?? object.property.id?.name) : undefined;
    return owner === 'log' ? 'a log line decides nothing; leaks are checked by the log tap' : undefined;
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Ignore, 'log', LogIgnorer)];
