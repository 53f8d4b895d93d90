import { ZodError } from 'zod';

/** A schema's complaints as one line, `field: message; ...`, with `root` naming the whole input. */
export function describeIssues(error: ZodError, root: string): string {
  return error.issues.map(i => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}
