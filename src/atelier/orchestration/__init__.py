"""What Airflow needs from atelier: the DAG plan (`plan`, written in the jobs environment) and what the DAGs'
tasks decide (`tasks`, standard library only, which the DAG file imports with `atelier.outcome`); so this file
imports nothing."""
