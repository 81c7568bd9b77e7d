/** The workspaces that become npm packages, in dependency order (what `tsc -b` and packing walk). */
export const PACKAGE_DIRS = ['packages/postgres', 'sdk', 'client', 'runtime', 'demo', 'host', 'cli', 'testing', 'packages/ferry'] as const;
