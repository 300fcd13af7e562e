// The environment half of the supervisor–child contract: what a forked child reads at start.

/** The whole validated config, as JSON: a child never reads the config file itself. */
export const CHILD_CONFIG_ENV = 'DROVER_CHILD_CONFIG';
/** The child's slot number (1, 2, …), stable across its restarts. */
export const CHILD_ID_ENV = 'DROVER_CHILD_ID';

/** Variables a child must not inherit: they are meant for the supervisor alone. */
export const SUPERVISOR_ONLY_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'];
