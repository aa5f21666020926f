"""The object-detection built-in algorithm: hyperparameter checks, a few epochs as a real training job
(RecordIO channels, as SageMaker takes them), and the quick ``openmaker vision train`` path."""

from __future__ import annotations

import json
import tarfile

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from openmaker.cli import app  # noqa: E402
from openmaker.vision.errors import HyperparameterError  # noqa: E402
from openmaker.vision.params import parse_params  # noqa: E402

runner = CliRunner()
BASE = {"num_classes": "3", "num_training_samples": "12"}


def test_sagemaker_defaults_and_string_values():
    params = parse_params(BASE)
    assert (params.base_network, params.image_shape, params.epochs, params.mini_batch_size) == ("vgg-16", 300, 30, 32)
    assert (params.learning_rate, params.optimizer, params.momentum, params.weight_decay) == (0.001, "sgd", 0.9, 0.0005)
    assert (params.nms_threshold, params.overlap_threshold, params.label_width) == (0.45, 0.5, 350)
    assert params.use_pretrained_model is True and params.early_stopping is False
    notebook = parse_params({**BASE, "base_network": "resnet-50", "epochs": "100", "lr_scheduler_step": "33,67",
                             "image_shape": "512", "mini_batch_size": "16", "early_stopping": "True"})
    assert notebook.lr_scheduler_step == (33, 67) and notebook.image_shape == 512 and notebook.early_stopping


@pytest.mark.parametrize(
    "change, message",
    [
        ({"image_shape": "301"}, "image_shape must be a multiple of 4"),
        ({"image_shape": "big"}, "image_shape must be an integer"),
        ({"image_shape": "32"}, "image_shape must be >= 64"),
        ({"lr_scheduler_step": "67,33", "epochs": "100"}, "lr_scheduler_step must be increasing"),
        ({"lr_scheduler_step": "10,40", "epochs": "30"}, "at or after the last epoch"),
        ({"lr_scheduler_step": "ten"}, "comma-separated epochs"),
        ({"learning_rate": "0"}, "learning_rate must be > 0"),
        ({"learning_rate": "2"}, "learning_rate must be <= 1"),
        ({"mini_batch_size": "1.5"}, "mini_batch_size must be an integer"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of sgd, adam, rmsprop, adadelta"),
        ({"base_network": "alexnet"}, "base_network must be one of"),
        ({"freeze_layer_pattern": "blocks.(3"}, "freeze_layer_pattern is not a valid regular expression"),
        ({"early_stopping": "maybe"}, "early_stopping must be true or false"),
        ({"kv_store": "device"}, "kv_store must be dist_sync or dist_async"),
        ({"label_width": "5"}, "label_width must be >= 7"),
        ({"pretrained_weights": "/nonexistent/w.pth"}, "pretrained_weights: no such file"),
        ({"learning_rat": "0.1"}, "unknown hyperparameter 'learning_rat'"),
    ],
)
def test_bad_hyperparameters_are_named(change, message):
    with pytest.raises(HyperparameterError, match=message.replace("(", r"\(")):
        parse_params({**BASE, **change})


def test_required_hyperparameters():
    with pytest.raises(HyperparameterError, match="num_training_samples is required"):
        parse_params({"num_classes": 3})
    with pytest.raises(HyperparameterError, match="num_classes is required"):
        parse_params({"num_training_samples": 3})


def test_pretrained_base_network_without_offline_weights_is_refused_before_training():
    from openmaker.vision.backbones import build_backbone

    with pytest.raises(HyperparameterError, match="resnet-50: its ImageNet weights cannot be downloaded here"):
        build_backbone("resnet-50", pretrained=True, weights=None, extra_levels=3)


def _train(*args):
    return runner.invoke(app, ["train", "--algorithm", "object-detection", "--quiet", *map(str, args)])


def test_a_training_job_on_recordio_channels(tmp_path, synth):
    from openmaker.training.jobs import describe_job

    items = synth.make_items(18, seed=3)
    train = synth.write_rec(tmp_path / "train", [i for i in items if i.split != "validation"], "train").parent
    validation = synth.write_rec(tmp_path / "validation", [i for i in items if i.split == "validation"], "val").parent
    hps = {"num_classes": 3, "num_training_samples": 12, "base_network": "efficientnet-lite0", "image_shape": 128,
           "mini_batch_size": 4, "epochs": 2, "learning_rate": 0.01, "lr_scheduler_step": "1"}
    result = _train("--channel", f"train={train}", "--channel", f"validation={validation}", "--output", tmp_path / "out",
                    "--job-name", "birds-od", *[a for k, v in hps.items() for a in ("--hyperparameter", f"{k}={v}")])
    assert result.exit_code == 0, result.output
    assert "TrainingJobStatus: Completed" in result.output
    described = describe_job("birds-od")
    assert described["AlgorithmSpecification"]["AlgorithmName"] == "object-detection"
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert 0.0 <= metrics["validation:mAP"] <= 1.0
    artefact = described["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(artefact.removeprefix("file://")) as archive:
        names = set(archive.getnames())
    assert {"model.json", "model.safetensors", "MAR-INF/MANIFEST.json", "metrics.csv", "training.png"} <= names


def test_a_training_job_with_a_bad_hyperparameter_fails_before_training(tmp_path, synth):
    from openmaker.training.jobs import describe_job

    train = synth.write_rec(tmp_path / "train", synth.make_items(4), "train").parent
    result = _train("--channel", f"train={train}", "--job-name", "bad-od", "--output", tmp_path / "out",
                    "--hyperparameter", "num_classes=3", "--hyperparameter", "num_training_samples=4",
                    "--hyperparameter", "lr_scheduler_step=20,10")
    assert result.exit_code != 0
    reason = describe_job("bad-od")["FailureReason"]
    assert reason.startswith("ClientError: lr_scheduler_step must be increasing"), reason


def test_class_ids_beyond_num_classes_fail_naming_the_image(tmp_path, synth):
    from openmaker.training.jobs import describe_job

    train = synth.write_rec(tmp_path / "train", synth.make_items(6), "train").parent
    result = _train("--channel", f"train={train}", "--job-name", "few-classes", "--output", tmp_path / "out",
                    "--hyperparameter", "num_classes=2", "--hyperparameter", "num_training_samples=6",
                    "--hyperparameter", "base_network=efficientnet-lite0", "--hyperparameter", "image_shape=128")
    assert result.exit_code != 0
    reason = describe_job("few-classes")["FailureReason"]
    assert "class id 2 is out of range for num_classes=2" in reason and "train channel" in reason, reason


def test_vision_train_writes_a_servable_model_within_its_budget(tmp_path, voc_dataset):
    out = tmp_path / "model"
    result = runner.invoke(app, ["vision", "train", str(voc_dataset.root), "--out", str(out), "--minutes", "5",
                                 "-H", "image_shape=128", "-H", "epochs=2", "-H", "mini_batch_size=4",
                                 "-H", "lr_scheduler_step=1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["classes"] == list(voc_dataset.classes) and summary["epochs"] == 2
    assert (out / "model.tar.gz").is_file() and (out / "training.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((out / "model.json").read_text())
    assert config["base_network"] == "efficientnet-lite0" and config["image_size"] == 128
    assert config["hyperparameters"]["max_minutes"] == 5.0
    assert "validation mAP <score>=(" in result.output


def test_vision_train_bad_input_is_one_line(tmp_path, voc_dataset):
    result = runner.invoke(app, ["vision", "train", str(voc_dataset.root), "--out", str(tmp_path / "m"), "-H", "image_shape=100x"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: image_shape must be an integer, got '100x'"]
    result = runner.invoke(app, ["vision", "train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output
