"""What Airflow needs from the jobs environment, written once so that DAG files import nothing heavy."""
