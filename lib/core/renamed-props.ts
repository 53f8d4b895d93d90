// Props renamed before 1.0 (issue 25: one name per concept). No alias keeps an old name alive:
// props are validated strictly, so an old name is an unknown prop, and this table turns that
// error into one that names the new prop. CHANGELOG.md's "Renamed and removed props" is the
// same list for readers.

/** A prop renamed before 1.0: `from` is refused, wherever an object knows `to` (and each of `alongside`). */
export interface RenamedProp {
  readonly from: string;
  readonly to: string;
  /** Other props the object must know, where `to` alone would match objects that never had `from`. */
  readonly alongside?: string[];
  /** What else changed with the name (the values, the shape). */
  readonly note?: string;
}

export const RENAMED_PROPS: RenamedProp[] = [
  { from: 'queue', to: 'queues', alongside: ['queuePrefix'], note: 'a list: queue: \'emails\' is queues: [\'emails\']' },
  { from: 'spread', to: 'placement', note: '\'ScheduleAnyway\' is now \'preferred\', \'DoNotSchedule\' \'required\'' },
  { from: 'autoscaler', to: 'autoscalerKind', note: '\'autoscaler\' is the autoscaling object (ScaledApi.autoscaler, the HPA)' },
  { from: 'cache', to: 'proxyCache', note: 'nginx\'s cache of responses; \'cache\' is a Redis everywhere else' },
  { from: 'name', to: 'secretName', alongside: ['key'], note: 'a Secret is named by secretName in every SecretRef and SecretKeyRef' },
  { from: 'requireAntiAffinity', to: 'placement', note: 'false is now \'preferred\', true \'required\'' },
];

/** The rename of `name` in an object whose known props are `known`, if it was renamed. */
export function renamedProp(name: string, known: string[]): RenamedProp | undefined {
  return RENAMED_PROPS.find(r => r.from === name && !known.includes(name) && [r.to, ...(r.alongside ?? [])].every(k => known.includes(k)));
}
