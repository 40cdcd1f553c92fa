// Value checkers for single settings. Each returns the converted value or a
// problem phrased to follow "section.key: ", e.g. "must be an integer >= 1".
import { isAbsolute } from 'node:path';

export type CheckResult<T> = { ok: true; value: T } | { ok: false; problem: string };
export type Check<T> = (value: unknown) => CheckResult<T>;

const ok = <T>(value: T): CheckResult<T> => ({ ok: true, value });
const bad = (problem: string): CheckResult<never> => ({ ok: false, problem });

export interface IntegerRule {
  min: number;
  max?: number;
  multipleOf?: number;
}

function describeInteger(rule: IntegerRule): string {
  const range = rule.max === undefined ? `>= ${rule.min}` : `between ${rule.min} and ${rule.max}`;
  return `must be an integer ${range}${rule.multipleOf ? ` and a multiple of ${rule.multipleOf}` : ''}`;
}

/** Integers arrive as bigint (the parser is told so), which keeps 1.0 from passing for 1. */
export function integer(rule: IntegerRule): Check<number> {
  return (value) => {
    if (typeof value !== 'bigint') return bad(describeInteger(rule));
    if (value < BigInt(rule.min) || (rule.max !== undefined && value > BigInt(rule.max))) {
      return bad(describeInteger(rule));
    }
    if (rule.multipleOf && value % BigInt(rule.multipleOf) !== 0n) return bad(describeInteger(rule));
    return ok(Number(value));
  };
}

export function boolean(): Check<boolean> {
  return (value) => (typeof value === 'boolean' ? ok(value) : bad('must be true or false'));
}

export function oneOf<T extends string>(choices: readonly T[]): Check<T> {
  return (value) =>
    typeof value === 'string' && (choices as readonly string[]).includes(value)
      ? ok(value as T)
      : bad(`must be one of ${choices.map((c) => `"${c}"`).join(', ')}`);
}

function isAbsolutePath(value: unknown): value is string {
  return typeof value === 'string' && isAbsolute(value) && !value.includes('\0');
}

export function absolutePath(): Check<string> {
  return (value) => (isAbsolutePath(value) ? ok(value) : bad('must be an absolute path'));
}

export function absolutePaths(): Check<string[]> {
  return (value) =>
    Array.isArray(value) && value.every(isAbsolutePath)
      ? ok([...value])
      : bad('must be an array of absolute paths');
}
