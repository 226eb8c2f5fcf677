-- One PostgreSQL server, three databases: MLflow's tracking store and registry, Airflow's metadata, the Spark catalog.
CREATE DATABASE mlflow;
CREATE DATABASE airflow;
CREATE DATABASE metastore;
