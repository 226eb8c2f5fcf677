"""Build the SparkSession every job uses: Delta Lake, a persistent Hive catalog, quiet logs."""
from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from atelier.config.schema import PlatformConfig

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).with_name("log4j2.properties")
LOOPBACK = "127.0.0.1"
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def on_loopback(platform: PlatformConfig) -> bool:
    """Whether the driver needs no network: a local master, or a cluster master on this machine's loopback."""
    master = platform.spark.master
    return master.startswith("local") or urlparse(master).hostname in (LOOPBACK, "localhost")


def launch_env(platform: PlatformConfig) -> dict[str, str]:
    """What the driver JVM's environment needs: `SPARK_LOCAL_IP` on loopback when the driver needs no network.

    Spark binds its web UI (when `spark.ui.enabled`) to `SPARK_LOCAL_IP`, else to every interface;
    `spark.driver.bindAddress` covers only the RPC endpoints. A `SPARK_LOCAL_IP` already set is kept.
    """
    if on_loopback(platform) and "SPARK_LOCAL_IP" not in os.environ:
        return {"SPARK_LOCAL_IP": LOOPBACK}
    return {}


def session_conf(platform: PlatformConfig) -> dict[str, str]:
    """Every Spark setting atelier relies on, also usable as `--conf` flags for `spark-sql`/`spark-submit`.

    The catalog is a Hive metastore on embedded Derby under `metastore_dir`, so a table written by
    one job is visible by name to the next process. Times are UTC inside Spark.
    """
    metastore = Path(platform.metastore_dir).resolve()
    lake = Path(platform.lake_root).resolve()
    conf = {
        **DELTA_CONF,
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(lake),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={metastore} -Dlog4j2.configurationFile={LOG4J2}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(platform.spark.shuffle_partitions),
        "spark.driver.memory": platform.spark.driver_memory,
        "spark.ui.enabled": str(platform.spark.ui_enabled).lower(),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
    }
    if on_loopback(platform):  # the driver's RPC endpoints; its UI binds per launch_env
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
    # Python workers (UDFs, training tasks) on every master run the jobs environment's interpreter:
    # $PYSPARK_PYTHON or this one, unless `spark.extra_conf` names another (a cluster's own path).
    conf["spark.pyspark.python"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    conf.update(platform.spark.extra_conf)
    return conf


def delta_packages() -> str:
    """The Maven coordinates of Delta's jars matching the installed delta-spark."""
    return f"io.delta:delta-spark_2.12:{importlib.metadata.version('delta-spark')}"


def delta_jar_conf() -> dict[str, str]:
    """Delta's jars: local files once Ivy has fetched them (fast, offline, quiet), else Maven coordinates."""
    version = importlib.metadata.version("delta-spark")
    jars_dir = Path(os.environ.get("ATELIER_IVY_DIR", Path.home() / ".ivy2")) / "jars"
    jars = [jars_dir / f"io.delta_delta-spark_2.12-{version}.jar", jars_dir / f"io.delta_delta-storage-{version}.jar"]
    jars += sorted(jars_dir.glob("org.antlr_antlr4-runtime-*.jar"))[-1:]
    if len(jars) == 3 and all(j.is_file() for j in jars):
        return {"spark.jars": ",".join(str(j) for j in jars)}
    return {"spark.jars.packages": delta_packages()}


def submit_args(platform: PlatformConfig) -> list[str]:
    """Flags that give `spark-submit` or `spark-sql` the same Delta jars, catalog and settings as a job."""
    args = ["--master", platform.spark.master]
    for key, value in {**delta_jar_conf(), **session_conf(platform)}.items():
        args += ["--conf", f"{key}={value}"]
    return args


def build_session(platform: PlatformConfig, app_name: str | None = None) -> SparkSession:
    """Start (or join) the process's SparkSession configured for `platform`."""
    Path(platform.metastore_dir).mkdir(parents=True, exist_ok=True)
    Path(platform.lake_root).mkdir(parents=True, exist_ok=True)
    conf = session_conf(platform)
    # PySpark reads the workers' interpreter from the environment, not from spark.pyspark.python;
    # the JVM it starts inherits this environment (launch_env).
    os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
    os.environ.update(launch_env(platform))
    builder = SparkSession.builder.master(platform.spark.master).appName(app_name or platform.spark.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    for key, value in delta_jar_conf().items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel(platform.spark.log_level)
    log.info("spark %s on %s, lake %s", spark.version, platform.spark.master, platform.lake_root)
    return spark
