export type { Config, LogLevel } from './types';
export { LOG_LEVELS } from './types';
export { DEFAULT_CONFIG_FILE, defaultConfig } from './defaults';
export { ConfigError } from './error';
export type { ConfigErrorLocation } from './error';
export { loadConfig } from './load';
export type { LoadConfigOptions } from './load';
export { exampleConfigText } from './example';
