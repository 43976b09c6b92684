/*
 * scheduler — `snapdiff scheduler --config FILE`, the daemon that runs
 * `snapdiff run` for every configured (database, table) on its schedule and
 * serves /metrics, /healthz, /status and POST /run over HTTP.
 * See docs/scheduler.md.
 */
#ifndef SD_SCHEDULER_H
#define SD_SCHEDULER_H

/* The subcommand's main: argv[0] is "scheduler". Returns the process exit
 * status: 0 after a clean shutdown, SD_ERR_CONFIG (3) for a configuration the
 * daemon refuses to start with, SD_ERR_USAGE (2) for a bad command line,
 * SD_ERR_INTERNAL (1) when the HTTP listener or the event loop fails. */
int scheduler_main(int argc, char **argv);

#endif
