/**
 * The message Patroni (3.0) schedules its background demotion under when a leader loses the store
 * (`Ha._handle_dcs_error`), and so the name of that action in its AsyncExecutor.
 */
const OFFLINE_DEMOTION = 'demoting self because DCS is not accessible and I was a leader';

/** How often a stopping PostgreSQL's state is read (pg_controldata, a few milliseconds each): Patroni's own 1 s is most of a switchover's outage. */
const SHUTDOWN_POLL_SECONDS = 0.1;

/**
 * Renders the script the patroni engine's container runs instead of `patroni <config>`: Patroni's own
 * `main`, after one fix for the Patroni versions that need it (before 3.3.7, and 4.0.0-4.0.5).
 *
 * In those versions a leader that loses the store demotes in the background (`demote('offline')`), and
 * its PostgreSQL's fast shutdown then waits for the standbys to confirm the shutdown checkpoint: behind
 * a partition that cut them off too, until the link is back or `wal_sender_timeout`. Each later loop
 * that still finds the store unreachable and the role a primary logs "AsyncExecutor is busy, demoting
 * from the main thread" and runs a second demotion beside the first; when the shutdown ends, both
 * start a PostgreSQL. One of the two fails on the lock file, and Patroni may keep the dead one's pid:
 * it then no longer sees the running postmaster, removes the data directory under it
 * (`remove_data_directory_on_rewind_failure`), clones, and its new postmaster never binds the port
 * the lost one holds (patroni/patroni#3372, #3649). The fix lets the loop skip the demotion while
 * the first one still runs, which is what Patroni 3.3.7, 4.0.6 and 4.1.0 do (they demote in the loop).
 *
 * And in every version that has it, the launcher shortens `STOP_POLLING_INTERVAL`, the sleep between
 * the `pg_controldata` reads with which a leader handing over (a switchover) waits for its PostgreSQL
 * to shut down: at Patroni's 1 s, the leader released its lock about a second after a shutdown of
 * 75 ms, and that second was most of a planned switchover's write outage (docs/postgres-failover.md).
 */
export function renderPatroniLauncher(): string {
  return `# Rendered by hscale renderPatroniLauncher: Patroni's own main, after one fix for the versions that need it
# and a shorter wait for a stopping PostgreSQL.
import sys

OFFLINE_DEMOTION = ${JSON.stringify(OFFLINE_DEMOTION)}
SHUTDOWN_POLL_SECONDS = ${SHUTDOWN_POLL_SECONDS}


def needs_fix(version):
    """A second demote('offline') runs beside the first before Patroni 3.3.7 and in 4.0.0-4.0.5 (patroni/patroni#3372)."""
    release = tuple(int(part) for part in version.split('.')[:3])
    return release < (3, 3, 7) or (4, 0, 0) <= release < (4, 0, 6)


def run_one_offline_demotion():
    """While the demotion of a leader that lost the store runs in the background, later loops wait for it."""
    from patroni.ha import Ha
    handle_dcs_error = Ha._handle_dcs_error

    def _handle_dcs_error(self):
        if self._async_executor.scheduled_action == OFFLINE_DEMOTION:
            return 'DCS is not accessible; ' + OFFLINE_DEMOTION + ' in progress'
        return handle_dcs_error(self)

    Ha._handle_dcs_error = _handle_dcs_error


def poll_shutdown_often():
    """A stopping PostgreSQL's state is read every SHUTDOWN_POLL_SECONDS, not every second: a switchover's leader releases its lock as soon as it is down."""
    import patroni.postgresql
    if getattr(patroni.postgresql, 'STOP_POLLING_INTERVAL', 0) > SHUTDOWN_POLL_SECONDS:
        patroni.postgresql.STOP_POLLING_INTERVAL = SHUTDOWN_POLL_SECONDS


# Patroni starts each postmaster through a 'spawn' multiprocessing helper, which imports this file
# again as __mp_main__: only the main process runs Patroni.
if __name__ == '__main__':
    from patroni.__main__ import main
    from patroni.version import __version__
    if needs_fix(__version__):
        run_one_offline_demotion()
    poll_shutdown_often()
    sys.argv[0] = 'patroni'  # as the package's own script names it (--version, the process title)
    sys.exit(main())
`;
}
