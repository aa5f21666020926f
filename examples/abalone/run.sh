#!/usr/bin/env bash
# The abalone workflow, end to end, with openmaker commands in a fresh OPENMAKER_HOME:
# featurizer training job -> batch transform of the raw data -> Linear Learner ->
# inference pipeline endpoint (featurizer + Linear Learner) -> a prediction.
# The last line printed is the predicted number of rings (the published run gave 9.53).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
openmaker=${OPENMAKER:-$here/../../.venv/bin/openmaker}
python=$(dirname "$openmaker")/python
export OPENMAKER_HOME=${OPENMAKER_HOME:-$(mktemp -d -t openmaker-abalone-XXXXXX)}
work=$OPENMAKER_HOME/abalone
mkdir -p "$work/raw"
cp "$here/data/abalone.data" "$work/raw/abalone.csv"
echo "OPENMAKER_HOME=$OPENMAKER_HOME" >&2

artifact() {  # the model.tar.gz of a finished training job
  "$openmaker" jobs describe "$1" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["ModelArtifacts"]["S3ModelArtifacts"])'
}

# 1. Fit the featurizer as a script-mode training job on the raw data.
"$openmaker" train --job-name abalone-featurizer --entry-point featurizer.py --source-dir "$here" \
  --channel train="$work/raw" --quiet >&2
featurizer=$(artifact abalone-featurizer)

# 2. Batch-transform the raw training data: label first, then the 10 features, as CSV.
"$openmaker" transform --model "$featurizer" --input "$work/raw" --output "$work/transformed" \
  --content-type text/csv --accept text/csv --split-type Line --assemble-with Line --no-progress >&2

# 3. Train the built-in Linear Learner regressor on the transformed data.
"$openmaker" train --job-name abalone-linear-learner --algorithm linear-learner \
  --channel train="$work/transformed" \
  --hyperparameter predictor_type=regressor --hyperparameter feature_dim=10 \
  --hyperparameter mini_batch_size=32 --quiet >&2
learner=$(artifact abalone-linear-learner)

# 4. Serve both models and join them into one pipeline endpoint.
ports=($("$python" -c 'import socket
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'))
"$openmaker" serve featurizer="$featurizer" linear-learner="$learner" --no-restore \
  --inference-port "${ports[0]}" --management-port "${ports[1]}" --metrics-port "${ports[2]}" \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:${ports[0]}/ping" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done
"$openmaker" endpoint create abalone --model featurizer --model linear-learner \
  --management-url "http://127.0.0.1:${ports[1]}" >&2

# 5. Raw CSV in, a prediction out (actual rings: 10).
response=$(curl -sf -X POST "http://127.0.0.1:${ports[0]}/invocations" \
  -H 'X-Amzn-SageMaker-Target-Model: abalone' -H 'Content-Type: text/csv' -H 'Accept: application/json' \
  --data-binary 'M, 0.44, 0.365, 0.125, 0.516, 0.2155, 0.114, 0.155')
echo "$response" >&2
echo "$response" | "$python" -c 'import json,sys; print(round(json.load(sys.stdin)["predictions"][0]["score"], 2))'
