import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { dirname, join, resolve } from 'path';

/** The lines of a Markdown text outside fenced code blocks, with inline code spans blanked. */
export function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').map(line => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, '``');
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor a Markdown text defines: its headings' slugs (GitHub numbers repeats -1, -2, ...) and HTML ids and names. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  proseLines(text).forEach((prose, i) => {
    const heading = /^#{1,6}\s+(.*?)\s*$/.exec(prose) && /^#{1,6}\s+(.*?)\s*$/.exec(lines[i]);
    if (heading) {
      const slug = headingSlug(heading[1]);
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      anchors.add(n === 0 ? slug : `${slug}-${n}`);
    }
    for (const m of prose.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  });
  return anchors;
}

/** The relative links and images of a Markdown text (external URLs left out). */
export function relativeLinks(text: string): string[] {
  return proseLines(text).flatMap(line => [...line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map(m => m[1]))
    .filter(target => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** The file a link of `file` points to (`file` itself for `#anchor`), and its anchor. */
function linkTarget(file: string, link: string): { target: string; anchor?: string } {
  const [path, anchor] = link.split('#');
  return { target: path === '' ? file : resolve(dirname(file), decodeURIComponent(path)), anchor };
}

/** Each link of `file` that does not resolve: a missing file, or an anchor its target does not define. */
export function brokenLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return relativeLinks(text).filter(link => {
    const { target, anchor } = linkTarget(file, link);
    if (!existsSync(target)) return true;
    if (anchor === undefined) return false;
    return !target.endsWith('.md') || !anchorsOf(target === file ? text : readFileSync(target, 'utf8')).has(anchor);
  });
}

/** The pages of `files` that no other page of them links to. */
export function orphanPages(files: string[]): string[] {
  const linked = new Set(files.flatMap(file => relativeLinks(readFileSync(file, 'utf8'))
    .map(link => linkTarget(file, link).target).filter(target => target !== file)));
  return files.filter(file => !linked.has(file));
}

/** The Markdown files of a folder, at any depth. */
export function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** A README step marked for the doc test: a file to write, or a shell block to run in a folder. */
export type DocStep = { readonly file: string; readonly content: string } | { readonly runIn: string; readonly script: string };

/**
 * The marked code blocks of a Markdown text, in order: `<!-- doctest: file <path> -->` or
 * `<!-- doctest: run <folder> -->` on the line before a fenced block. Unmarked blocks are prose.
 */
export function docSteps(text: string): DocStep[] {
  return [...text.matchAll(/<!-- doctest: (file|run) (\S+) -->\n```[a-z]*\n([\s\S]*?)```/g)]
    .map(([, kind, target, body]) => kind === 'file' ? { file: target, content: body } : { runIn: target, script: body });
}
