"""What Airflow needs from atelier: the DAG plan (`plan`, written in the jobs environment) and the
standard-library modules the DAG file imports (`tasks`, `outcome`); so this file imports nothing."""
