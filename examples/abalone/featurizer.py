"""Abalone featurizer in SageMaker script mode.

As a training job (``openmaker train --entry-point featurizer.py``) it fits a
ColumnTransformer on the raw UCI abalone CSV in ``SM_CHANNEL_TRAIN`` and saves
it to ``SM_MODEL_DIR``. Served (``code/inference.py`` of the model archive), it
turns raw CSV rows into the 10 features Linear Learner trains on: with the
label column (9 values) it puts the label first, ready for training; without
it (8 values) it answers the features alone, as JSON for the next pipeline
stage or CSV for batch transform.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
LABEL = "rings"
NUMERIC = FEATURES[1:]


def read_csv(text_or_path, with_label: bool | None = None) -> pd.DataFrame:
    frame = pd.read_csv(text_or_path, header=None, skipinitialspace=True)
    if with_label is None:
        with_label = frame.shape[1] == len(FEATURES) + 1
    expected = len(FEATURES) + (1 if with_label else 0)
    if frame.shape[1] != expected:
        raise ValueError(f"expected {len(FEATURES)} or {len(FEATURES) + 1} columns, got {frame.shape[1]}")
    frame.columns = FEATURES + ([LABEL] if with_label else [])
    for column in NUMERIC:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise ValueError(f"row {row}, column {column!r}: {frame[column].iloc[row - 1]!r} is not a number")
        frame[column] = values
    return frame


def fit(train_dir: str, model_dir: str) -> None:
    files = sorted(p for p in Path(train_dir).iterdir() if p.is_file())
    if not files:
        raise ValueError(f"no training files in {train_dir}")
    frame = pd.concat([read_csv(p, with_label=True) for p in files])
    preprocessor = make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        (make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore")), ["sex"]),
    )
    preprocessor.fit(frame.drop(columns=[LABEL]))
    joblib.dump(preprocessor, os.path.join(model_dir, "model.joblib"))
    # Serve with the same code: the archive's code/inference.py is this file.
    code = Path(model_dir) / "code"
    code.mkdir(exist_ok=True)
    shutil.copy(__file__, code / "inference.py")
    print(f"fitted on {len(frame)} rows from {len(files)} file(s)")


# -- inference (model server / batch transform) --------------------------------------------
def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(input_data, content_type):
    # openmaker answers a ValueError raised here with 400; UnsupportedMediaType with 415.
    from openmaker.serving.errors import UnsupportedMediaType

    if content_type != "text/csv":
        raise UnsupportedMediaType(f"{content_type} is not supported by the abalone featurizer: send text/csv")
    if not input_data.strip():
        raise ValueError("the body is empty: send CSV rows of 8 (or 9, with rings) values")
    return read_csv(io.StringIO(input_data))


def predict_fn(input_data, model):
    features = model.transform(input_data.drop(columns=[LABEL], errors="ignore"))
    features = features.toarray() if hasattr(features, "toarray") else features
    if LABEL in input_data:
        return np.insert(features, 0, input_data[LABEL].to_numpy(), axis=1)
    return features


def output_fn(prediction, accept):
    if accept == "application/json":
        body = json.dumps({"instances": [{"features": row.tolist()} for row in prediction]})
        return body, accept
    if accept == "text/csv":
        buffer = io.StringIO()
        np.savetxt(buffer, prediction, delimiter=",", fmt="%.10g")
        return buffer.getvalue(), accept
    raise ValueError(f"{accept} accept type is not supported by the abalone featurizer")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()
    fit(args.train, args.model_dir)
