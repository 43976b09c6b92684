"""snapdiff_mirror — mirrors MediaWiki tables with `snapdiff run`, every 15 minutes.

One mapped task instance per (wiki, table): `run_table.partial(...).expand(db=wikis,
table=tables)` maps over the cross product of the two lists. The lists, the
binary and the configuration file come from DAG params (when triggering),
Airflow Variables, or defaults, read inside the `wikis` and `tables` tasks, never when
this file is imported (see snapdiff_dags/runner.py and docs/airflow.md).

Concurrency against MariaDB is limited by the pool POOL (one pool per MariaDB
host: create it with `airflow pools set snapdiff_mariadb 2 "snapdiff source"`);
snapdiff's own per-(database, table) lock makes overlapping runs (this DAG,
the scheduler daemon, a person at the CLI) exit 99, which skips the instance.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import Param, TriggerRule, dag, task

from snapdiff_dags import runner

# One pool per MariaDB host; the name may differ per deployment.
POOL = os.environ.get("SNAPDIFF_AIRFLOW_POOL", "snapdiff_mariadb")

default_args = {
    "owner": "snapdiff",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
}


@dag(
    dag_id="snapdiff_mirror",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["snapdiff", "mediawiki"],
    default_args=default_args,
    doc_md=__doc__,
    params={
        "wikis": Param(None, type=["null", "array"], description="Databases; default: Variable snapdiff_wikis"),
        "tables": Param(None, type=["null", "array"], description="Tables; default: Variable snapdiff_tables"),
        "config": Param(None, type=["null", "string"], description="Config file; default: Variable snapdiff_config"),
        "bin": Param(None, type=["null", "string"], description="snapdiff binary; default: Variable snapdiff_bin"),
        "allow_mass_delete": Param(False, type="boolean",
                                   description="Pass --allow-mass-delete (after checking a guard trip)"),
    },
)
def snapdiff_mirror():
    @task
    def wikis(params=None) -> list:
        return runner.resolve_settings(params)["wikis"]

    @task
    def tables(params=None) -> list:
        return runner.resolve_settings(params)["tables"]

    @task(pool=POOL, max_active_tis_per_dag=8, map_index_template="{{ task.op_kwargs['db'] }}.{{ task.op_kwargs['table'] }}")
    def run_table(db: str, table: str, full: bool = False, params=None) -> dict:
        return runner.run_snapdiff(db, table, full=full,
                                   allow_mass_delete=bool((params or {}).get("allow_mass_delete")))

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def report(summaries) -> dict:
        # by index up to len(): iterating probes one past the end (a logged 404)
        return runner.totals([summaries[i] for i in range(len(summaries))])

    # expand() over two lists maps the cross product: every wiki x every table
    runs = run_table.partial(full=False).expand(db=wikis(), table=tables())
    report(runs)


snapdiff_mirror()

if __name__ == "__main__":
    # `python snapdiff_mirror.py`: one in-process run (needs an initialised Airflow
    # metadata DB and a configured snapdiff; see docs/airflow.md)
    snapdiff_mirror().test()
