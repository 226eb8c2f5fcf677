"""Build the SparkSession every job uses: Delta Lake, a persistent Hive catalog, quiet logs."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pyspark
from pyspark.sql import SparkSession

from atelier.config.platform import PlatformConfig
from atelier.spark import derby, lake, logstore, onnx_scorer

log = logging.getLogger(__name__)

LOG4J2 = Path(__file__).with_name("log4j2.properties")
LOOPBACK = "127.0.0.1"
# Settings whose values are secrets (the catalog's password, object-store keys): kept off command lines.
SECRET_SETTING = re.compile(r"password|secret|token|access\.key", re.IGNORECASE)
CATALOG_URL = "spark.hadoop.javax.jdo.option.ConnectionURL"
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


def submit_env(platform: PlatformConfig) -> dict[str, str]:
    """This process's environment for a `spark-submit` or `spark-sql` of the jobs: this interpreter for
    the launcher's `find_spark_home` and the Python workers, and `launch_env`."""
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, **launch_env(platform)}


def session_conf(platform: PlatformConfig) -> dict[str, str]:
    """Every Spark setting atelier relies on, also usable as `--conf` flags for `spark-sql`/`spark-submit`.

    The catalog is a Hive metastore on embedded Derby under `metastore_dir`, so a table written by
    one job is visible by name to the next process. Times are UTC inside Spark.
    """
    metastore = Path(platform.metastore_dir).resolve()
    conf = {
        **DELTA_CONF,
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": lake.root(platform),
        CATALOG_URL: derby.embedded_url(metastore),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={metastore} -Dlog4j2.configurationFile={LOG4J2}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(platform.spark.shuffle_partitions),
        # Delta rebuilds a table's state from its log (after each commit, and to plan each read) in 50
        # tasks unless told otherwise; a log of a few thousand actions needs no more than a shuffle.
        "spark.databricks.delta.snapshotPartitions": str(platform.spark.shuffle_partitions),
        "spark.driver.memory": platform.spark.driver_memory,
        "spark.ui.enabled": str(platform.spark.ui_enabled).lower(),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        # The catalog does not copy a parent folder's group and mode to a table's (chgrp/chmod noise on object stores).
        "spark.hadoop.hive.warehouse.subdir.inherit.perms": "false",
    }
    if on_loopback(platform):  # the driver's RPC endpoints; its UI binds per launch_env
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
    # Python workers (UDFs, training tasks) on every master run the jobs environment's interpreter:
    # $PYSPARK_PYTHON or this one, unless `spark.extra_conf` names another (a cluster's own path).
    conf["spark.pyspark.python"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    # pyspark's daemon, minus a per-task re-read of pyspark.zip's directory on Python < 3.12 (pyworker.py)
    conf["spark.python.daemon.module"] = "atelier.spark.pyworker"
    conf.update(platform.spark.extra_conf)
    return conf


def spark_jars_dir() -> Path:
    """Spark's own jars: under $SPARK_HOME (set by spark-submit, whose pyspark is a zip), else pyspark's."""
    return Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent) / "jars"


def hadoop_api_jar() -> Path:
    """Spark's own Hadoop API jar."""
    jars = spark_jars_dir()
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise RuntimeError(f"no hadoop-client-api jar in {jars}: is SPARK_HOME the jobs environment's pyspark?")
    return found[-1]


def hadoop_version() -> str:
    """The Hadoop version of PySpark's own jars (a connector such as hadoop-aws must match it)."""
    return hadoop_api_jar().name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def runtime_packages(platform: PlatformConfig) -> dict[str, tuple[str, ...]]:
    """The Maven packages the jobs add to Spark, each with the Ivy cache's file names of its runtime jars.

    Delta's, at the version of the installed delta-spark; ONNX Runtime's (the `jvm` scoring engine);
    for a lake on object storage, hadoop-aws (the s3a connector) at PySpark's Hadoop version with the
    AWS SDK bundle it needs.
    """
    delta = importlib.metadata.version("delta-spark")
    packages = {
        f"io.delta:delta-spark_2.12:{delta}": (
            f"io.delta_delta-spark_2.12-{delta}.jar",
            f"io.delta_delta-storage-{delta}.jar",
            "org.antlr_antlr4-runtime-*.jar",
        ),
        onnx_scorer.ONNXRUNTIME: (onnx_scorer.ONNXRUNTIME_JAR,),
    }
    if lake.scheme(platform) in lake.OBJECT_STORE_SCHEMES:
        hadoop = hadoop_version()
        packages[f"org.apache.hadoop:hadoop-aws:{hadoop}"] = (
            f"org.apache.hadoop_hadoop-aws-{hadoop}.jar",
            "com.amazonaws_aws-java-sdk-bundle-*.jar",
            "org.wildfly.openssl_wildfly-openssl-*.jar",
        )
    return packages


def ivy_jars_dir() -> Path:
    """Where Ivy (Spark's `--packages`, scripts/fetch_jars.py) keeps the jars it fetched."""
    return Path(os.environ.get("ATELIER_IVY_DIR", Path.home() / ".ivy2")) / "jars"


def jar_conf(platform: PlatformConfig) -> dict[str, str]:
    """The jobs' jars: local files once Ivy has fetched them (fast, offline, quiet), else Maven coordinates.

    With the jars in the Ivy cache (`make venv` fetches them), the jobs also get the JVM scoring
    engine's `OnnxScorer` and, for a lake on a local file system, atelier's log store
    (`atelier.spark.logstore`).
    """
    packages = runtime_packages(platform)
    jars_dir = ivy_jars_dir()
    found = [sorted(jars_dir.glob(name))[-1:] for names in packages.values() for name in names]
    if not all(found):
        log.warning(
            "the jobs' jars are not in %s yet: Spark fetches them; Delta's default log store and no jvm "
            "scoring engine this time (scripts/fetch_jars.py puts them there)",
            jars_dir,
        )
        return {"spark.jars.packages": ",".join(packages)}
    jars = [j[0] for j in found]
    onnxruntime = next(j for j in jars if j.name == onnx_scorer.ONNXRUNTIME_JAR)
    try:
        jars.append(onnx_scorer.scorer_jar(spark_jars_dir(), onnxruntime))
    except (RuntimeError, subprocess.CalledProcessError) as e:  # only the jvm scoring engine needs it
        log.warning("no jvm scoring engine in this session: %s", getattr(e, "stderr", None) or e)
    if lake.scheme(platform) != "file":
        return {"spark.jars": ",".join(str(j) for j in jars)}
    storage = next(j for j in jars if j.name.startswith("io.delta_delta-storage-"))
    jars.append(logstore.logstore_jar(storage, hadoop_api_jar()))
    return {"spark.jars": ",".join(str(j) for j in jars), logstore.SETTING: logstore.CLASS}


def public_conf(platform: PlatformConfig) -> dict[str, str]:
    """The jobs' jars and settings less those holding secrets, for a command line or the DAG plan.

    A command line is visible to every local user (`ps`) and a plan file to whoever reads it; a job
    file resolves the secret settings itself from its environment when it builds its session.
    """
    return {k: v for k, v in {**jar_conf(platform), **session_conf(platform)}.items() if not SECRET_SETTING.search(k)}


def submit_args(platform: PlatformConfig) -> list[str]:
    """Flags that give `spark-submit` or `spark-sql` the same jars, catalog and settings as a job (no secrets)."""
    args = ["--master", platform.spark.master]
    for key, value in public_conf(platform).items():
        args += ["--conf", f"{key}={value}"]
    return args


@contextmanager
def secret_properties(platform: PlatformConfig) -> Iterator[list[str]]:
    """`--properties-file` flags carrying the secret settings (e.g. the catalog's password) for a shell.

    The file is in a private temporary folder (mode 700) and is removed when the block ends.
    """
    secrets = {k: v for k, v in session_conf(platform).items() if SECRET_SETTING.search(k)}
    if not secrets:
        yield []
        return
    with tempfile.TemporaryDirectory(prefix="atelier-secrets-") as folder:
        path = Path(folder) / "spark.properties"
        escaped = {k: v.replace("\\", "\\\\") for k, v in secrets.items()}  # a Java properties file's backslashes
        path.write_text("".join(f"{k}={v}\n" for k, v in escaped.items()))
        yield ["--properties-file", str(path)]


def prepare_catalog(platform: PlatformConfig) -> None:
    """Make the metastore folder; with the embedded Derby catalog, set aside a database whose creation was killed."""
    metastore = Path(platform.metastore_dir).resolve()
    metastore.mkdir(parents=True, exist_ok=True)
    if session_conf(platform)[CATALOG_URL] == derby.embedded_url(metastore):
        derby.set_aside_unfinished(metastore)


def build_session(platform: PlatformConfig, app_name: str | None = None) -> SparkSession:
    """Start (or join) the process's SparkSession configured for `platform`."""
    prepare_catalog(platform)
    if not lake.is_uri(platform.lake_root):
        Path(platform.lake_root).mkdir(parents=True, exist_ok=True)
    conf = session_conf(platform)
    # PySpark reads the workers' interpreter from the environment, not from spark.pyspark.python;
    # the JVM it starts inherits this environment (launch_env).
    os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
    os.environ.update(launch_env(platform))
    builder = SparkSession.builder.master(platform.spark.master).appName(app_name or platform.spark.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    for key, value in jar_conf(platform).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel(platform.spark.log_level)
    log.info("spark %s on %s, lake %s", spark.version, platform.spark.master, platform.lake_root)
    return spark
