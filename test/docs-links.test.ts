import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { anchorsOf, brokenLinks, markdownFiles, orphanPages } from './support/markdown';

const ROOT = join(__dirname, '..');
const PAGES = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];

test('every relative link and anchor in README.md and docs/ resolves', () => {
  expect(PAGES.flatMap(page => brokenLinks(page).map(link => `${relative(ROOT, page)}: ${link}`))).toEqual([]);
});

test('every page is linked from another page (a new page goes into the index, docs/README.md)', () => {
  expect(orphanPages(PAGES).map(page => relative(ROOT, page))).toEqual([]);
});

test('a heading\'s anchor is GitHub\'s: code, punctuation and link targets dropped, repeats numbered', () => {
  const page = '# Apply\n\n## What `npm test` needs\n\n## Testing your chart: hscale/testing\n\n```sh\n# not a heading\n```\n\n## Apply\n\n<a name="kept"></a>';
  expect([...anchorsOf(page)]).toEqual(['apply', 'what-npm-test-needs', 'testing-your-chart-hscaletesting', 'apply-1', 'kept']);
});

test('a missing file, a missing anchor and a link inside code are told apart, and a page no other page links to is an orphan', () => {
  // GIVEN
  const dir = mkdtempSync(join(tmpdir(), 'hscale-links-'));
  try {
    writeFileSync(join(dir, 'other.md'), '# Other\n\n## Part two\n');
    writeFileSync(join(dir, 'page.md'), [
      '# Page', '[ok](other.md#part-two) [self](#page) [web](https://example.com/x.md)',
      '[gone](missing.md) [no anchor](other.md#part-three) [self gone](#nowhere)', '`[in code](missing.md)`',
    ].join('\n'));
    // WHEN
    const broken = brokenLinks(join(dir, 'page.md'));
    // THEN
    expect(broken).toEqual(['missing.md', 'other.md#part-three', '#nowhere']);
    expect(orphanPages([join(dir, 'page.md'), join(dir, 'other.md')])).toEqual([join(dir, 'page.md')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
