/* eslint-disable @typescript-eslint/no-explicit-any */
import { readFileSync } from 'fs';
import { join } from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { Manifest, Validator } from './manifest-checks';

/**
 * The CloudNativePG CRDs (`Cluster`, `Pooler`, `ScheduledBackup`) that PgReplicaSet's
 * `cloudnative-pg` engine was generated from, shipped with the package.
 */
export const CLOUDNATIVE_PG_CRDS = join(__dirname, '..', '..', 'crds', 'cloudnative-pg.yaml');

/**
 * Validators for custom resources, by `apiVersion/kind`, each checking an object against the
 * `openAPIV3Schema` of its CustomResourceDefinition in the YAML file `crdFile`.
 */
export function crdValidators(crdFile: string = CLOUDNATIVE_PG_CRDS): Record<string, Validator> {
  // x-kubernetes-* keywords and Kubernetes formats are not JSON Schema: allow and skip them.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators: Record<string, Validator> = {};
  const crds = parseAllDocuments(readFileSync(crdFile, 'utf8')).map(d => d.toJS())
    .filter(d => d?.kind === 'CustomResourceDefinition');
  for (const crd of crds) {
    for (const version of crd.spec.versions) {
      // Compiled on first use: a CRD schema is large, and most charts use few of the kinds.
      let validate: ValidateFunction | undefined;
      validators[`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`] = (m: Manifest) => {
        validate ??= ajv.compile(version.schema.openAPIV3Schema);
        return validate(m) ? [] : (validate.errors ?? []).map((e: any) => `schema: ${e.instancePath || '/'} ${e.message}`);
      };
    }
  }
  return validators;
}
