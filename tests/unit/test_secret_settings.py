"""Secret Spark settings (the catalog's password, object-store keys) stay off command lines and the DAG plan."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

from atelier.config.platform import PlatformConfig, SparkConfig
from atelier.spark.session import public_conf, secret_properties, submit_args

PASSWORD = secrets.token_urlsafe(12)  # as if from the environment


def platform() -> PlatformConfig:
    return PlatformConfig(
        spark=SparkConfig(
            extra_conf={
                "spark.hadoop.javax.jdo.option.ConnectionPassword": PASSWORD,
                "spark.hadoop.fs.s3a.secret.key": "s3-" + PASSWORD,
                "spark.hadoop.fs.s3a.aws.credentials.provider": "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
            }
        )
    )


def test_submit_flags_and_the_plan_conf_leave_secrets_out() -> None:
    args = " ".join(submit_args(platform()))
    assert PASSWORD not in args and "ConnectionPassword" not in args
    assert "fs.s3a.aws.credentials.provider=com.amazonaws" in args  # names a class, not a secret
    assert not any(PASSWORD in v for v in public_conf(platform()).values())


def test_a_shell_gets_the_secrets_from_a_private_file_removed_afterwards() -> None:
    with secret_properties(platform()) as flags:
        assert flags[0] == "--properties-file"
        path = Path(flags[1])
        text = path.read_text()
        assert f"spark.hadoop.javax.jdo.option.ConnectionPassword={PASSWORD}" in text
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.exists()
    with secret_properties(PlatformConfig()) as flags:
        assert flags == []
