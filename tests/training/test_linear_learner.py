"""The built-in Linear Learner: estimator, CSV input, training entry point, serving handler.

Synthetic data only (nothing read from outside the project): a known linear relation plus noise
for regression, separable data for the classifiers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from openmaker.serving.handlers.base import Context
from openmaker.serving.protocol import InferenceRequest
from openmaker.training.linear_learner import DataError, HyperparameterError, LinearLearner
from openmaker.training.linear_learner.data import check_content_type, read_csv_channel
from openmaker.training.linear_learner.handler import LinearLearnerHandler

NOISE = 0.5
METRIC_REGEX = r"#quality_metric: host=\S+, epoch=(\d+), validation \S+_objective <loss>=(\S+)"


def regression_data(n=4000, d=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 5.0, size=d) + rng.normal(size=d) * 3
    w = rng.normal(size=d)
    y = X @ w + 7.0 + rng.normal(scale=NOISE, size=n)
    return X, y


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ---------------------------------------------------------------- the algorithm

def test_regression_recovers_linear_relation():
    X, y = regression_data()
    Xtr, ytr, Xte, yte = X[:3000], y[:3000], X[3000:], y[3000:]
    lines = []
    model = LinearLearner(predictor_type="regressor", mini_batch_size=100).fit(Xtr, ytr, log=lines.append)
    pred = model.predict(Xte)
    assert set(pred) == {"score"} and pred["score"].shape == (1000,)
    A = np.c_[Xtr, np.ones(len(Xtr))]
    coef = np.linalg.lstsq(A, ytr, rcond=None)[0]
    ols = rmse(np.c_[Xte, np.ones(len(Xte))] @ coef, yte)
    ours = rmse(pred["score"], yte)
    assert ours < NOISE * 1.1
    assert ours < ols * 1.03
    assert model.coef_.shape == (10, 1) and model.intercept_.shape == (1,)
    assert model.weights_.shape == (8, 10, 1)
    assert len(model.model_hyperparameters_) == 8
    assert len({m["learning_rate"] for m in model.model_hyperparameters_}) == 8
    # one metric line per epoch, parseable by the documented regex
    epochs = [m.groups() for m in map(re.compile(METRIC_REGEX).match, lines) if m]
    assert len(epochs) == model.epochs_trained_ and [int(e) for e, _ in epochs] == list(range(len(epochs)))
    assert any(line.startswith("#validation_score (algo-1) : ('mse_objective', ") for line in lines)


def test_explicit_validation_set_and_hyperparameter_strings():
    X, y = regression_data(n=2000, d=4, seed=1)
    model = LinearLearner(predictor_type="regressor", feature_dim="4", epochs="5", num_models="2",
                          learning_rate="0.05", wd="0.0001", l1="0", normalize_data="true",
                          use_lr_scheduler="false", optimizer="sgd", mini_batch_size="50")
    model.fit(X[:1500], y[:1500], X[1500:], y[1500:])
    assert [m["learning_rate"] for m in model.model_hyperparameters_] == [0.05, 0.025]
    assert rmse(model.predict(X[1500:])["score"], y[1500:]) < NOISE * 1.2


@pytest.mark.parametrize("loss", ["absolute_loss", "huber_loss", "quantile_loss", "eps_insensitive_squared_loss"])
def test_other_regression_losses(loss):
    X, y = regression_data(n=1500, d=3, seed=2)
    model = LinearLearner(predictor_type="regressor", loss=loss, mini_batch_size=64, epochs=8).fit(X, y)
    assert rmse(model.predict(X)["score"], y) < NOISE * 1.3


def test_binary_classifier():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 6))
    w = rng.normal(size=6)
    y = (X @ w + 0.5 > 0).astype(float)
    model = LinearLearner(predictor_type="binary_classifier", mini_batch_size=100, epochs=10).fit(X[:2500], y[:2500])
    out = model.predict(X[2500:])
    assert set(out) == {"score", "predicted_label"}
    assert ((out["score"] >= 0) & (out["score"] <= 1)).all()
    assert np.array_equal(out["predicted_label"], (out["score"] > 0.5).astype(int))
    assert (out["predicted_label"] == y[2500:]).mean() > 0.9
    assert model.validation_metrics_["binary_classification_accuracy"] > 0.9


def test_binary_hinge_and_balanced_weights():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] - X[:, 1] > 0.8).astype(float)  # imbalanced
    model = LinearLearner(predictor_type="binary_classifier", loss="hinge_loss",
                          positive_example_weight_mult="balanced", epochs=10, mini_batch_size=100).fit(X, y)
    assert (model.predict(X)["predicted_label"] == y).mean() > 0.9


def test_multiclass_classifier():
    rng = np.random.default_rng(5)
    centers = rng.normal(scale=4.0, size=(4, 5))
    labels = rng.integers(0, 4, size=3000)
    X = centers[labels] + rng.normal(size=(3000, 5))
    model = LinearLearner(predictor_type="multiclass_classifier", num_classes="4", mini_batch_size=100,
                          epochs=10).fit(X[:2500], labels[:2500])
    out = model.predict(X[2500:])
    assert out["score"].shape == (500, 4)
    np.testing.assert_allclose(out["score"].sum(axis=1), 1.0, atol=1e-9)
    assert (out["predicted_label"] == labels[2500:]).mean() > 0.9


def test_save_and_load_round_trip(tmp_path):
    X, y = regression_data(n=500, d=3)
    model = LinearLearner(predictor_type="regressor", epochs=2).fit(X, y)
    model.save(tmp_path)
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["predictor_type"] == "regressor" and doc["feature_dim"] == 3
    again = LinearLearner.load(tmp_path)
    np.testing.assert_allclose(again.predict(X)["score"], model.predict(X)["score"])


# ---------------------------------------------------------------- hyperparameter and data errors

@pytest.mark.parametrize("kwargs, message", [
    ({}, "predictor_type is required: regressor, binary_classifier or multiclass_classifier"),
    ({"predictor_type": "auto"}, "predictor_type is required"),
    ({"predictor_type": "ranker"}, "predictor_type must be one of"),
    ({"predictor_type": "multiclass_classifier"}, "num_classes is required"),
    ({"predictor_type": "multiclass_classifier", "num_classes": "2"}, "num_classes must be >= 3"),
    ({"predictor_type": "regressor", "epochs": "ten"}, "epochs must be an integer, got 'ten'"),
    ({"predictor_type": "regressor", "mini_batch_size": "0"}, "mini_batch_size must be >= 1"),
    ({"predictor_type": "regressor", "learning_rate": "-1"}, "learning_rate must be > 0"),
    ({"predictor_type": "regressor", "normalize_data": "yes"}, "normalize_data must be true or false"),
    ({"predictor_type": "regressor", "loss": "logistic"}, "loss logistic does not fit predictor_type regressor"),
    ({"predictor_type": "regressor", "loss": "bogus"}, "loss must be auto or one of"),
    ({"predictor_type": "regressor", "optimizer": "lbfgs"}, "optimizer must be one of adam, sgd, rmsprop"),
    ({"predictor_type": "regressor", "feature_dim": "x"}, "feature_dim must be an integer"),
])
def test_hyperparameter_errors(kwargs, message):
    with pytest.raises(HyperparameterError, match=re.escape(message)):
        LinearLearner(**kwargs)


def test_unknown_hyperparameter_and_ignored_sagemaker_ones():
    with pytest.raises(HyperparameterError, match="unknown hyperparameter.*learning_rat"):
        LinearLearner.from_hyperparameters({"predictor_type": "regressor", "learning_rat": "0.1"})
    est = LinearLearner.from_hyperparameters({"predictor_type": "regressor", "sagemaker_region": "x"})
    assert est._hp["predictor_type"] == "regressor"


def test_unsupported_selection_criterion_is_not_implemented():
    with pytest.raises(NotImplementedError, match="precision_at_target_recall"):
        LinearLearner(predictor_type="binary_classifier",
                      binary_classifier_model_selection_criteria="precision_at_target_recall")


def test_data_errors():
    X, y = regression_data(n=50, d=3)
    with pytest.raises(DataError, match="3 features but feature_dim is 4"):
        LinearLearner(predictor_type="regressor", feature_dim=4).fit(X, y)
    with pytest.raises(DataError, match="labels must be 0 or 1; row 1"):
        LinearLearner(predictor_type="binary_classifier").fit(X, y)
    with pytest.raises(DataError, match=r"integers 0..2 \(num_classes=3\); row 1"):
        LinearLearner(predictor_type="multiclass_classifier", num_classes=3).fit(X, np.full(50, 5))
    model = LinearLearner(predictor_type="regressor", epochs=1).fit(X, y)
    with pytest.raises(DataError, match="2 features but feature_dim is 3"):
        model.predict(X[:, :2])


def test_csv_channel(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n4,5,6\n\n")
    (tmp_path / "b.csv").write_text("7,8,9\n")
    (tmp_path / ".hidden").write_text("junk\n")
    X, y = read_csv_channel(tmp_path)
    assert X.tolist() == [[2, 3], [5, 6], [8, 9]] and y.tolist() == [1, 4, 7]
    with pytest.raises(DataError, match="2 features .* feature_dim is 5"):
        read_csv_channel(tmp_path, feature_dim=5)


def test_csv_errors_name_file_row_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n7,abc,9\n")
    with pytest.raises(DataError, match=r"bad\.csv: row 3, column 2 \(feature 1\): 'abc' is not a number"):
        read_csv_channel(bad)
    bad.write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"bad\.csv: row 2 has 2 columns, expected 3"):
        read_csv_channel(bad)
    bad.write_text("rings,length\n1,2\n")
    with pytest.raises(DataError, match=r"row 1, column 1 \(the label\): 'rings' is not a number"):
        read_csv_channel(bad)
    with pytest.raises(NotImplementedError, match="recordio-protobuf"):
        check_content_type("application/x-recordio-protobuf")


# ---------------------------------------------------------------- the training entry point

def _job(tmp_path: Path, hps: dict, train_csv: str, validation_csv: str | None = None):
    (tmp_path / "input/data/train").mkdir(parents=True)
    (tmp_path / "input/data/train/train.csv").write_text(train_csv)
    (tmp_path / "input/config").mkdir(parents=True)
    (tmp_path / "input/config/hyperparameters.json").write_text(json.dumps(hps))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({
        "SM_CHANNEL_TRAIN": str(tmp_path / "input/data/train"),
        "SM_INPUT_DIR": str(tmp_path / "input"),
        "SM_INPUT_CONFIG_DIR": str(tmp_path / "input/config"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DIR": str(tmp_path / "output"),
    })
    if validation_csv is not None:
        (tmp_path / "input/data/validation").mkdir(parents=True)
        (tmp_path / "input/data/validation/v.csv").write_text(validation_csv)
        env["SM_CHANNEL_VALIDATION"] = str(tmp_path / "input/data/validation")
    return subprocess.run([sys.executable, "-m", "openmaker.training.linear_learner.train"], env=env,
                          capture_output=True, text=True, timeout=120)


def _csv(X, y):
    return "\n".join(",".join(f"{v:.6g}" for v in [t, *row]) for t, row in zip(y, X)) + "\n"


def test_train_entry_point_writes_a_servable_model(tmp_path):
    X, y = regression_data(n=600, d=3)
    hps = {"predictor_type": "regressor", "feature_dim": "3", "mini_batch_size": "32", "epochs": "4"}
    proc = _job(tmp_path, hps, _csv(X[:500], y[:500]), _csv(X[500:], y[500:]))
    assert proc.returncode == 0, proc.stderr
    assert re.search(METRIC_REGEX, proc.stdout)
    assert "#validation_score (algo-1) : ('mse'," in proc.stdout
    manifest = json.loads((tmp_path / "model/MAR-INF/MANIFEST.json").read_text())
    assert manifest == {"runtime": "python", "model": {"modelName": "linear-learner", "modelVersion": "1.0",
                                                       "handler": "linear-learner"}}
    model = LinearLearner.load(tmp_path / "model")
    assert rmse(model.predict(X[500:])["score"], y[500:]) < NOISE * 1.3
    assert not (tmp_path / "output/failure").exists()


@pytest.mark.parametrize("hps, csv_text, message", [
    ({"predictor_type": "regressor"}, "1,2\n3,x\n", "ClientError: "),
    ({"epochs": "1"}, "1,2\n", "ClientError: predictor_type is required"),
    ({"predictor_type": "regressor", "feature_dim": "5"}, "1,2\n", "feature_dim is 5"),
])
def test_train_entry_point_failure_file(tmp_path, hps, csv_text, message):
    proc = _job(tmp_path, hps, csv_text)
    assert proc.returncode == 1
    failure = (tmp_path / "output/failure").read_text()
    assert failure.startswith("ClientError: ") and message in failure
    if "x" in csv_text:
        assert "train.csv: row 2, column 2" in failure


# ---------------------------------------------------------------- the serving handler

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    def make(predictor_type, X, y, **kw):
        d = tmp_path_factory.mktemp(predictor_type)
        LinearLearner(predictor_type=predictor_type, epochs=5, mini_batch_size=20, **kw).fit(X, y).save(d)
        handler = LinearLearnerHandler()
        handler.initialize(Context(model_dir=d, model_name="ll", model_version="1"))
        return handler

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 3))
    return {
        "regressor": make("regressor", X, X @ [1.0, 2.0, 3.0] + 4),
        "binary_classifier": make("binary_classifier", X, (X[:, 0] > 0).astype(float)),
        "multiclass_classifier": make("multiclass_classifier", X, np.argmax(X, axis=1), num_classes=3),
    }


def _ask(handler, body, content_type="text/csv", accept="application/json"):
    (response,) = handler.handle([InferenceRequest(body=body.encode() if isinstance(body, str) else body,
                                                   content_type=content_type, accept=accept)])
    return response


def test_handler_csv_and_json(served):
    h = served["regressor"]
    r = _ask(h, "1,1,1\n0,0,0\n")
    assert r.status == 200 and r.content_type == "application/json"
    preds = json.loads(r.body)["predictions"]
    assert len(preds) == 2 and set(preds[0]) == {"score"}
    assert abs(preds[0]["score"] - 10.0) < 1.0 and abs(preds[1]["score"] - 4.0) < 1.0
    for body in ('{"instances": [{"features": [1, 1, 1]}, {"features": [0, 0, 0]}]}',
                 '{"instances": [[1, 1, 1], [0, 0, 0]]}'):
        r = _ask(h, body, "application/json")
        assert json.loads(r.body)["predictions"] == preds
    r = _ask(h, "1,1,1\n0,0,0", accept="application/jsonlines")
    assert r.content_type == "application/jsonlines"
    assert [json.loads(line) for line in r.body.decode().splitlines()] == preds


def test_handler_classifiers(served):
    r = _ask(served["binary_classifier"], "2,0,0\n-2,0,0")
    preds = json.loads(r.body)["predictions"]
    assert [p["predicted_label"] for p in preds] == [1, 0]
    assert preds[0]["score"] > 0.5 > preds[1]["score"]
    r = _ask(served["multiclass_classifier"], '{"instances": [{"features": [0, 0, 3]}]}', "application/json")
    (pred,) = json.loads(r.body)["predictions"]
    assert pred["predicted_label"] == 2 and len(pred["score"]) == 3


def test_handler_batches_requests(served):
    h = served["regressor"]
    responses = h.handle([InferenceRequest(body=b"1,1,1", content_type="text/csv"),
                          InferenceRequest(body=b"1,x,1", content_type="text/csv"),
                          InferenceRequest(body=b"0,0,0\n0,0,0", content_type="text/csv")])
    assert [r.status for r in responses] == [200, 400, 200]
    assert len(json.loads(responses[2].body)["predictions"]) == 2


@pytest.mark.parametrize("body, content_type, accept, status, message", [
    ("1,2,3\n1,abc,3", "text/csv", "application/json", 400, "CSV row 2, column 2: 'abc' is not a number"),
    ("1,2\n", "text/csv", "application/json", 400, "CSV row 1 has 2 columns; the model expects 3"),
    ("", "text/csv", "application/json", 400, "empty"),
    ('{"instances": [{"features": [1, 2]}]}', "application/json", "application/json", 400,
     "instance 1 has 2 features"),
    ('{"instances": [{"features": [1, "a", 2]}]}', "application/json", "application/json", 400,
     "instance 1, feature 2"),
    ("{not json", "application/json", "application/json", 400, "not valid JSON"),
    ("1,2,3", "text/plain", "application/json", 415, "unsupported Content-Type 'text/plain'"),
    ("1,2,3", "application/x-recordio-protobuf", "application/json", 415, "not implemented"),
    ("1,2,3", "text/csv", "text/csv", 406, "does not support text/csv as the Accept type"),
    ("1,2,3", "text/csv", "image/png", 406, "cannot produce any type"),
])
def test_handler_errors(served, body, content_type, accept, status, message):
    r = _ask(served["regressor"], body, content_type, accept)
    assert r.status == status
    assert message in json.loads(r.body)["message"]
