"""snapdiff_full_verify — the daily full verification: `snapdiff run --full`.

A normal run may skip chunks whose server-side checksum matches the state
(checksum_pushdown); `--full` re-reads and re-hashes every row, so drift the
checksums cannot see is found and repaired once a day. It is heavier, so it
runs at night, with a lower priority and the same per-host pool as the
15-minute DAG (both DAGs' runs of one table also exclude each other through
snapdiff's lock: the loser exits 99 and is skipped).
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import TriggerRule, dag, task

from snapdiff_dags import runner

POOL = os.environ.get("SNAPDIFF_AIRFLOW_POOL", "snapdiff_mariadb")

default_args = {
    "owner": "snapdiff",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
    "execution_timeout": timedelta(hours=12),
    "priority_weight": 1,
}


@dag(
    dag_id="snapdiff_full_verify",
    schedule="30 2 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["snapdiff", "mediawiki", "verification"],
    default_args=default_args,
    doc_md=__doc__,
)
def snapdiff_full_verify():
    @task
    def wikis(params=None) -> list:
        return runner.resolve_settings(params)["wikis"]

    @task
    def tables(params=None) -> list:
        return runner.resolve_settings(params)["tables"]

    @task(pool=POOL, max_active_tis_per_dag=2, map_index_template="{{ task.op_kwargs['db'] }}.{{ task.op_kwargs['table'] }}")
    def verify_table(db: str, table: str, full: bool = True) -> dict:
        return runner.run_snapdiff(db, table, full=full)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def report(summaries) -> dict:
        # by index up to len(): iterating probes one past the end (a logged 404)
        return runner.totals([summaries[i] for i in range(len(summaries))])

    report(verify_table.partial(full=True).expand(db=wikis(), table=tables()))


snapdiff_full_verify()

if __name__ == "__main__":
    # `python snapdiff_full_verify.py`: one in-process run (needs an initialised Airflow
    # metadata DB and a configured snapdiff; see docs/airflow.md)
    snapdiff_full_verify().test()
