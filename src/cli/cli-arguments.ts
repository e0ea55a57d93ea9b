import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { z } from 'zod';
import { LakechatError } from '../errors.ts';
import { type AnyReadModel, allProjections } from '../projection-runner/index.ts';

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

function invalid(argument: string, message: string): LakechatError {
  return new LakechatError('LAKECHAT_ERR_REPLAY_INVALID_ARGUMENT', `--${argument}: ${message}`, { details: { argument } });
}

/** Parses flags strictly: an unknown flag or a stray word is an error that names it. */
export function parseFlags<O extends OptionsConfig>(args: readonly string[], options: O): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const flag = /'(--?[\w-]+)/.exec(message)?.[1]?.replace(/^-+/, '') ?? 'arguments';
    throw invalid(flag, message.replace(/\. To specify.*$/s, ''));
  }
}

const kebab = (name: string): string => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/** Checks values with a zod schema; the first problem becomes an error naming its flag. */
export function checkFlags<S extends z.ZodType>(schema: S, values: unknown): z.output<S> {
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw invalid(kebab(String(issue.path[0] ?? 'arguments')), issue.message);
}

export const positiveInt = (argument: string, value: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw invalid(argument, `a whole number from 1 to ${max}`);
  return Number(value);
};

/** The projections named by `--projection` (all of them when none is). */
export function pickProjections(names: readonly string[] | undefined): AnyReadModel[] {
  if (names === undefined || names.length === 0) return [...allProjections];
  const known = allProjections.map((projection) => projection.name);
  return [...new Set(names)].map((name) => {
    const projection = allProjections.find((candidate) => candidate.name === name);
    if (projection === undefined) throw new LakechatError('LAKECHAT_ERR_REBUILD_UNKNOWN_PROJECTION', `No projection is named "${name}"`, { details: { projection: name, known } });
    return projection;
  });
}

export { invalid as invalidArgument };
