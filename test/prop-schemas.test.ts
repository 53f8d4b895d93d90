import { readFileSync } from 'fs';
import { renderPropSchemasModule, SCHEMAS_FILE } from '../scripts/prop-schemas';

// Like dist/: the committed schemas are what the types generate today. When this fails, run `npm run schemas`.
test('lib/core/generated/prop-schemas.ts is what `npm run schemas` generates from the props interfaces', () => {
  expect(readFileSync(SCHEMAS_FILE, 'utf8')).toBe(renderPropSchemasModule());
}, 120_000);
