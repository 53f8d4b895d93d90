// The process helpers are shared with `npm run local` (local/), which starts the same servers.
export * from '../../local/processes';
