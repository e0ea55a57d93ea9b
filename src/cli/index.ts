// What the operators' commands (replay, rebuild, status, erase, repair) share: flags, progress, the
// script's database, and the exit codes.
export { checkFlags, invalidArgument, type OptionsConfig, parseFlags, pickProjections, positiveInt } from './cli-arguments.ts';
export { formatDuration, ProgressMeter } from './progress-meter.ts';
export { type OpenScriptDatabaseOptions, openScriptDatabase, type ScriptDatabase } from './script-database.ts';
export { exitCodes, runScript } from './script-run.ts';
