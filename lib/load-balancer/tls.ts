import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { propError } from '../core/validation';
import { LoadBalancerTls } from './props';

/** Validates `tls`: a Secret name, and DNS names when cert-manager is to issue it. */
export function resolveTls(scope: Construct, tls: LoadBalancerTls | undefined): LoadBalancerTls | undefined {
  if (tls !== undefined && !tls.secretName) {
    throw propError(scope, 'tls.secretName', tls.secretName ?? '', 'must name a kubernetes.io/tls Secret when TLS is asked for');
  }
  if (tls?.certificate !== undefined && tls.certificate.dnsNames.length === 0) {
    throw propError(scope, 'tls.certificate.dnsNames', '[]', 'must name at least one DNS name to certify');
  }
  return tls;
}

/** The cert-manager Certificate that issues and renews `tls.secretName`, so no TLS Secret is made by hand. */
export function createCertificate(
  scope: Construct, tls: LoadBalancerTls, metadata: { name: string; labels: Record<string, string>; namespace?: string },
): ApiObject {
  const { issuer, issuerKind = 'ClusterIssuer', dnsNames } = tls.certificate!;
  return new ApiObject(scope, 'Certificate', {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata,
    spec: { secretName: tls.secretName, dnsNames, issuerRef: { group: 'cert-manager.io', kind: issuerKind, name: issuer } },
  });
}
