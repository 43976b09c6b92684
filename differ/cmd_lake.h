/*
 * cmd_lake — `snapdiff lake orphans|expire|compact`: maintenance of the
 * Iceberg tables the lake sink writes (differ/cmd_lake.c, docs/lake.md).
 */
#ifndef SD_CMD_LAKE_H
#define SD_CMD_LAKE_H

/* Returns the process exit code (an sd_code). */
int cmd_lake(int argc, char **argv);

#endif
