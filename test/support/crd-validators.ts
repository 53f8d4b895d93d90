/* eslint-disable @typescript-eslint/no-explicit-any */
import { readFileSync } from 'fs';
import { join } from 'path';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';
import { Manifest, Validator } from './manifest-checks';

/**
 * Validators for the custom resources of the vendored CRDs (`crds/*.yaml`), by `apiVersion/kind`,
 * each checking an object against its CRD's `openAPIV3Schema`.
 */
export function crdValidators(file = 'cloudnative-pg.yaml'): Record<string, Validator> {
  // x-kubernetes-* keywords and Kubernetes formats are not JSON Schema: allow and skip them.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators: Record<string, Validator> = {};
  const crds = parseAllDocuments(readFileSync(join(__dirname, '..', '..', 'crds', file), 'utf8')).map(d => d.toJS()).filter(Boolean);
  for (const crd of crds) {
    for (const version of crd.spec.versions) {
      const validate = ajv.compile(version.schema.openAPIV3Schema);
      validators[`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`] = (m: Manifest) =>
        validate(m) ? [] : (validate.errors ?? []).map((e: any) => `schema: ${e.instancePath || '/'} ${e.message}`);
    }
  }
  return validators;
}
