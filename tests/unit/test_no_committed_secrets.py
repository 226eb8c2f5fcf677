"""No credential is committed: every tracked text file is scanned for keys, tokens and literal passwords.

Secrets come from the environment (`${VAR}` in conf/, `${VAR:?...}` in docker/compose.yaml, the
git-ignored docker/.env) or are generated at run time (scripts/airflow.sh). A secret-named key may
hold only nothing, null, an environment reference or a YAML anchor; a literal in code must contain
whitespace (a sentence, a command), not look like a key. ALLOWED lists each exception: file and text.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from tests.conftest import REPO

TOKENS = {
    "private key": re.compile(r"-{5}BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-{5}"),
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@'\"]+:(?!\$)[^\s/:@'\"]+@"),
}
SECRET_NAME = r"[\w.-]*(?:password|passwd|secret|token|api_?key|access_?key|private_?key|credential)[\w.-]*"
# conf/, docker/ and configuration files: `key: value`, `key=value`, `ENV key=value`.
SETTING = re.compile(
    rf"^\s*(?:export\s+|ENV\s+|-\s+)?[\"']?(?P<key>{SECRET_NAME})[\"']?\s*[:=]\s*(?P<value>.*?)\s*$", re.IGNORECASE
)
PROVIDER = re.compile(
    r"provider$", re.IGNORECASE
)  # names the class that reads credentials, e.g. fs.s3a.aws.credentials.provider
NOT_A_VALUE = re.compile(r"^(|null|~|\"\"|''|[&*][\w-]+|.*\$\{\w+(:?[-?][^}]*)?\}.*|\$\w+.*|#.*)$")
CONFIG_FILES = re.compile(r"(^conf/|^docker/|\.(ya?ml|env|ini|cfg|toml|properties)$|(^|/)Dockerfile$|env\.example$)")
# Code and docs: a secret-named name given a quoted literal without whitespace.
LITERAL = re.compile(
    rf"(?P<key>{SECRET_NAME})[\"']?\s*(?::\s*\w+\s*)?[:=]\s*[\"'](?P<value>[^\"'\s]{{6,}})[\"']", re.IGNORECASE
)
NOT_A_LITERAL = re.compile(r"^(\$\{.*\}|<[^>]*>|\*+)$")
ALLOWED = {
    ("tests/unit/test_config.py", "postgresql://ml:" + "s3cret@"): "the value the test sets for ${PGPASS}, substituted",
}
SECRET_FILES = re.compile(
    r"(^|/)(\.env|id_[rd]sa|id_ecdsa|id_ed25519|passwords\.json|credentials\.json)$"
    r"|\.(pem|key|p12|pfx|jks|keystore)$"
)


def tracked_text_files() -> dict[str, str]:
    """Tracked file -> its text (binary files, with a NUL byte, left out)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    texts = {}
    for name in filter(None, names.decode().split("\0")):
        path = REPO / name
        if path.is_file() and b"\0" not in (data := path.read_bytes()):
            texts[name] = data.decode("utf-8", errors="replace")
    return texts


def findings(name: str, text: str) -> list[str]:
    """What in `text` (the file `name`) looks like a committed credential, not in ALLOWED: 'file:line: kind'."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{number}"
        found += [
            f"{where}: {kind}"
            for kind, pattern in TOKENS.items()
            if (m := pattern.search(line)) and (name, m[0]) not in ALLOWED
        ]
        if (
            CONFIG_FILES.search(name)
            and (m := SETTING.match(line))
            and not NOT_A_VALUE.match(m["value"])
            and not PROVIDER.search(m["key"])
        ):
            found.append(f"{where}: literal value for {m['key']} (take it from the environment: ${{VAR}})")
        found += [
            f"{where}: literal value for {m['key']}"
            for m in LITERAL.finditer(line)
            if not NOT_A_LITERAL.match(m["value"]) and not PROVIDER.search(m["key"])
        ]
    return found


def test_no_tracked_file_holds_a_credential() -> None:
    texts = tracked_text_files()
    assert "docker/compose.yaml" in texts and "src/atelier/cli.py" in texts, "scanned the wrong tree?"
    found = [f for name, text in texts.items() for f in findings(name, text)]
    assert not found, "\n".join(found)
    assert [(name, text) for name, text in ALLOWED if text not in texts.get(name, "")] == [], "stale ALLOWED entry"


def test_no_secret_file_is_tracked() -> None:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert not [n for n in names if SECRET_FILES.search(n)]
    assert subprocess.run(["git", "check-ignore", "-q", "docker/.env"], cwd=REPO).returncode == 0
    assert "**/.env" in (REPO / ".dockerignore").read_text().splitlines(), "the jobs image copies the build context"


# Samples are put together at run time, so that this file holds none of them.
CAUGHT = [
    ("notes.md", "-----BEGIN RSA " + "PRIVATE KEY-----"),
    ("notes.md", "-----BEGIN OPENSSH " + "PRIVATE KEY-----"),
    ("src/x.py", "key = '" + "AKIA" + "Q" * 16 + "'"),
    ("src/x.py", "GH = '" + "ghp_" + "a1" * 18 + "'"),
    ("src/x.py", "hook = 'https://hooks.slack.com/services/" + "T0000/B0000/abcdefgh'"),
    ("src/x.py", "'" + "xoxb-" + "1234567890-abcdef'"),
    ("docs/x.md", "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"),
    ("docs/x.md", "postgresql://atelier:" + "hunter22@db:5432/mlflow"),
    ("conf/base/platform.yaml", "    spark.hadoop.javax.jdo.option.ConnectionPassword: " + "hunter22"),
    ("docker/compose.yaml", "      POSTGRES_PASSWORD: " + "atelier"),
    ("docker/env.example", "MINIO_ROOT_PASSWORD=" + "minio123"),
    ("docker/Dockerfile", "ENV API_TOKEN=" + "abc123"),
    ("src/x.py", "connect(password=" + "'s3cr3t-pw')"),
    ("java/X.java", "String apiKey = " + '"0123456789abcdef";'),
]
PASSED = [
    ("conf/compose/platform.yaml", "    spark.hadoop.javax.jdo.option.ConnectionPassword: ${METASTORE_PASSWORD}"),
    ("docker/compose.yaml", "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it in docker/.env}"),
    (
        "docker/compose.yaml",
        "  --backend-store-uri postgresql://atelier:${POSTGRES_PASSWORD:?set it}@postgres:5432/mlflow",
    ),
    ("docker/compose.yaml", "x-secrets: &secrets"),
    ("docker/env.example", "POSTGRES_PASSWORD="),
    ("conf/base/platform.yaml", "  webhook_uri: null"),
    ("scripts/airflow.sh", "token='import secrets; print(secrets.token_urlsafe(32))'"),
    ("src/x.py", "password = os.environ['ATELIER_AIRFLOW_PASSWORD']"),
    ("src/x.py", "def login(page: Page, url: str, user: str, password: str) -> None:"),
]


@pytest.mark.parametrize(("name", "line"), CAUGHT)
def test_the_scan_catches_each_kind(name: str, line: str) -> None:
    assert findings(name, line)


@pytest.mark.parametrize(("name", "line"), PASSED)
def test_the_scan_passes_secrets_from_the_environment(name: str, line: str) -> None:
    assert findings(name, line) == []
