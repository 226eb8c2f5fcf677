#!/usr/bin/env bash
# Spark's GPU discovery script: this machine's GPUs as Spark's resource JSON, e.g. {"name": "gpu", "addresses": ["0", "1"]}.
# Named by spark.worker.resource.gpu.discoveryScript and spark.executor.resource.gpu.discoveryScript (docs/gpu.md).
set -euo pipefail
addresses=$(nvidia-smi --query-gpu=index --format=csv,noheader | sed 's/ //g; s/.*/"&"/' | paste -sd, -)
echo "{\"name\": \"gpu\", \"addresses\": [$addresses]}"
