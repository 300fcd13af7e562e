// The [autoscale] section with its one `auto` value resolved, so decide() sees only numbers.
import type { AutoscaleConfig } from '../config/schema.ts';

export type Policy = Omit<AutoscaleConfig, 'max_children'> & { max_children: number };

export class AutoscaleError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * `autoMaxChildren` is what `max_children = "auto"` means on this machine (2 × the CPU share).
 * An automatic ceiling never undercuts the floor the user wrote; an explicit one that does is
 * a configuration mistake.
 */
export function resolvePolicy(config: AutoscaleConfig, autoMaxChildren: number): Policy {
  const max = config.max_children === 'auto' ? Math.max(autoMaxChildren, config.min_children) : config.max_children;
  if (max < config.min_children) {
    throw new AutoscaleError(
      'AUTOSCALE_MIN_ABOVE_MAX',
      `autoscale.min_children (${config.min_children}) is above autoscale.max_children (${max})`,
    );
  }
  return { ...config, max_children: max };
}
