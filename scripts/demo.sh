#!/usr/bin/env bash
# The example use case end to end on embedded defaults (local Spark, Delta under var/).
set -euo pipefail
cd "$(dirname "$0")/.."
use_case=${1:-flights_delay}
start=${2:-2013-01-01}
end=${3:-2013-12-31}
atelier=.venv/bin/atelier
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "collect $use_case $start..$end: sources -> bronze Delta tables, matured outcomes -> outcomes table"
$atelier collect --use-case "$use_case" --start "$start" --end "$end"
step "features $use_case $start..$end: bronze -> silver (clean, point-in-time joins) -> gold feature table"
$atelier features --use-case "$use_case" --start "$start" --end "$end"
planted=var/demo/weather_planted_2013-07-04.csv
step "a planted bad day: 2013-07-04's weather with six impossible readings, collected and validated again"
.venv/bin/python scripts/plant_bad_day.py 2013-07-04 "$planted"
$atelier collect --use-case "$use_case" --date 2013-07-04 \
  --set sources.weather.format=csv --set "sources.weather.path=$planted" --set sources.weather.package=
$atelier features --use-case "$use_case" --date 2013-07-04
step "the tables (Delta under var/lake, registered in the catalog under var/metastore)"
$atelier tables
step "validation: what the rules quarantined, and the runs' reports"
$atelier quarantine list
$atelier sql "SELECT table_name, date, rows_in, rows_quarantined, failures_by_rule, report FROM ops.validation_runs \
WHERE outcome <> 'passed' ORDER BY date"
step "a query over the feature table"
$atelier sql "SELECT origin, count(*) AS flights, round(avg(wx_visib), 2) AS avg_visibility, \
round(avg(sched_block_minutes), 1) AS avg_block_minutes FROM gold.flight_features GROUP BY origin ORDER BY origin"
# `atelier train` prints "run <id>: model <name> version <n>"; keep the version.
train() {
  local out
  out=$($atelier train --use-case "$use_case" "$@")
  echo "$out" >&2
  sed -n 's/^run .*: model .* version \([0-9][0-9]*\)$/\1/p' <<<"$out"
}
step "train $use_case: Jan-Sep 2013 (time split), MLP on Horovod-on-Spark with 2 processes, logged to MLflow, registered"
champion=$(train --run-name demo)
step "promote version $champion to champion through the gate (the first champion always passes)"
$atelier promote --use-case "$use_case" --version "$champion" || echo "(the gate kept the current champion)"
step "a challenger (logistic regression) and a shadow (another seed), trained in-process"
challenger=$(train --run-name challenger --set training.backend=local --set training.model.name=linear \
  --set training.model.params={})
$atelier promote --use-case "$use_case" --version "$challenger" --alias challenger
shadow=$(train --run-name shadow --set training.backend=local --set training.seed=7)
$atelier promote --use-case "$use_case" --version "$shadow" --alias shadow
step "score Oct-Dec 2013: champion, challenger on 20% of flights, shadow -> ml.predictions"
$atelier score --use-case "$use_case" --start 2013-10-01 --end 2013-12-31
step "served positive rate per arm and month (SQL over ml.predictions)"
$atelier sql "SELECT date_format(score_date, 'yyyy-MM') AS month, arm, model_version, count(*) AS served, \
round(avg(predicted_label), 4) AS positive_rate, round(avg(score), 4) AS mean_score FROM ml.predictions \
WHERE served GROUP BY 1, 2, 3 ORDER BY 1, 2"
step "reconcile Oct-Dec: predictions joined with the outcomes that arrived within 2 days -> ml.live_metrics"
$atelier reconcile --use-case "$use_case" --start 2013-10-01 --end 2013-12-31 >/dev/null
$atelier sql "SELECT date_format(score_date, 'yyyy-MM') AS month, arm, model_version, population, \
round(sum(auc * rows_labelled) / sum(rows_labelled), 4) AS live_auc, sum(rows_scored) AS scored, \
round(sum(rows_labelled) / sum(rows_scored), 3) AS labelled FROM ml.live_metrics GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4"
step "drift against the champion's training window, alerts and retraining requests (ml.feature_drift, ml.alerts)"
$atelier monitor --use-case "$use_case" --start 2013-10-01 --end 2013-12-31 --show 5
$atelier sql "SELECT feature, importance_rank, round(avg(psi), 3) AS mean_psi, round(max(psi), 3) AS max_psi \
FROM ml.feature_drift WHERE kind <> 'score' GROUP BY 1, 2 ORDER BY mean_psi DESC LIMIT 5"
step "the A/B read-out (challenger vs champion on the rows each served) and the monitoring report"
$atelier ab-report --use-case "$use_case" --start 2013-10-01 --end 2013-12-31
$atelier report --use-case "$use_case" --start 2013-10-01 --end 2013-12-31
step "export the champion: an MLflow bundle, and one ONNX graph (preprocessing + network) for JVM services (java/)"
$atelier export --use-case "$use_case" --alias champion --to "var/export/$use_case"
$atelier export --use-case "$use_case" --alias champion --format onnx --to "var/export/${use_case}_onnx"
step "the use case's MLflow runs"
$atelier runs --use-case "$use_case" --max 5
cat <<MSG

Done. The tables live under var/lake/<database>/<table> (Delta) and are registered by name.
Query them:
  .venv/bin/atelier sql "SELECT * FROM gold.flight_features WHERE flight_date = DATE'2013-07-04' LIMIT 10"
  .venv/bin/atelier spark-sql                 # Spark's own SQL shell on the same catalog
  .venv/bin/atelier tables                    # versions, row counts, last writes
Quarantined rows:  .venv/bin/atelier sql "SELECT * FROM quarantine.bronze_weather"   (docs/validation.md)
Data Docs (one page per validation run): var/reports/data_docs/index.html
Rerun one day (idempotent):  .venv/bin/atelier features --use-case $use_case --date 2013-07-04
The training run, its charts and the registered model:  .venv/bin/atelier ui mlflow   (http://127.0.0.1:5000)
Monitoring (live metrics, drift heatmap, alerts): var/reports/$use_case/monitoring/index.html (docs/monitoring.md)
The champion in a JVM service:  var/export/${use_case}_onnx with the library in java/ (java/README.md)
A variant of that run on the same data:  .venv/bin/atelier train --from-run RUN_ID --set training.model.name=linear
MSG
