/** A PostgreSQL LSN ('16/B374D848') as one comparable number of bytes. */
export function lsnToBigInt(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/** The LSN of a consistency token, or undefined when the token does not parse. */
export function parseConsistencyToken(value: string): string | undefined {
  return LSN.test(value.trim()) ? value.trim().toUpperCase() : undefined;
}
