import pino from 'pino';

/** JSON logs on stdout; LOG_LEVEL picks the level (silent in tests). */
export const logger = pino({ level: process.env.LOG_LEVEL ?? (process.env.JEST_WORKER_ID ? 'silent' : 'info') });
