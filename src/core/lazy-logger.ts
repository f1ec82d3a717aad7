/**
 * A child logger made on first use. pino builds a child's bindings when it is made (through the
 * redaction, which alone cost a reply tens of microseconds), and most replies never log: each
 * gets this stand-in, which makes the real child the first time anything is asked of it.
 */
import type { Logger } from 'pino';

export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = () => (child ??= parent.child(bindings));
  return new Proxy({} as Logger, {
    get(_target, property) {
      const logger = real();
      const value: unknown = Reflect.get(logger, property, logger);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
    set(_target, property, value: unknown) {
      return Reflect.set(real(), property, value);
    },
    has(_target, property) {
      return Reflect.has(real(), property);
    },
  });
}
