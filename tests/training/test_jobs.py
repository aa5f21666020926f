"""Training jobs in script mode: the /opt/ml layout and SM_* environment a real script sees,
artifacts, metrics, failures, records on SQLite and PostgreSQL, the CLI."""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmaker import storage
from openmaker.cli import app
from openmaker.config import get_settings
from openmaker.training import TrainingJob, describe_job, list_jobs, run_training_job
from openmaker.training.layout import JobLayout, sagemaker_env, user_args

runner = CliRunner()

# A script that records what it was given: environment, arguments, cwd, config files, channel contents.
DUMP_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import helper  # from code/, which must be on PYTHONPATH

    cfg = os.environ["SM_INPUT_CONFIG_DIR"]
    data = {}
    for name in json.loads(os.environ["SM_CHANNELS"]):
        root = os.environ["SM_CHANNEL_" + name.upper()]
        data[name] = sorted(
            os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
        )
    dump = {
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "PYTHONPATH"))},
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "helper": helper.VALUE,
        "config": {n: json.load(open(os.path.join(cfg, n))) for n in sorted(os.listdir(cfg))},
        "data": data,
    }
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "dump.json"), "w") as f:
        json.dump(dump, f)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
        f.write("weights")
    os.makedirs(os.path.join(os.environ["SM_MODEL_DIR"], "code"), exist_ok=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "code", "inference.py"), "w") as f:
        f.write("# inference")
    for epoch in range(3):
        print(f"epoch={epoch} train_loss={1.0 / (epoch + 1):.4f}", flush=True)
    print("validation:rmse 2.25 done", file=sys.stderr, flush=True)
    """
)


@pytest.fixture
def source_dir(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(DUMP_SCRIPT)
    (src / "helper.py").write_text("VALUE = 42\n")
    return src


@pytest.fixture
def train_dir(tmp_path) -> Path:
    data = tmp_path / "train-data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv").write_text("1,2,3\n")
    (data / "part" / "b.csv").write_text("4,5,6\n")
    return data


def _script(tmp_path: Path, body: str, name: str = "job.py") -> Path:
    src = tmp_path / f"src-{name}"
    src.mkdir(exist_ok=True)
    (src / name).write_text(textwrap.dedent(body))
    return src


def _dump(record) -> dict:
    return json.loads((Path(record.job_dir) / "output" / "data" / "dump.json").read_text())


def _run(**kwargs):
    return run_training_job(TrainingJob(**kwargs), progress=False)


def test_the_script_sees_the_sagemaker_layout_and_environment(source_dir, train_dir, tmp_path):
    validation = tmp_path / "valid.csv"
    validation.write_text("7,8,9\n")
    record = _run(
        entry_point="train.py",
        source_dir=str(source_dir),
        channels={"train": str(train_dir), "validation": str(validation)},
        hyperparameters={"epochs": "10", "learning-rate": "0.1", "optimizer": "adam", "b": 2},
        name="dump-job",
    )
    assert record.status == "Completed", record.failure_reason
    root = Path(record.job_dir)
    assert root == get_settings().home / "jobs" / "dump-job"
    dump = _dump(record)
    env = dump["env"]
    layout = JobLayout(root)

    # the layout
    for folder in ("input/data/train", "input/data/validation", "input/config", "model", "output/data", "code"):
        assert (root / folder).is_dir(), folder
    assert dump["data"] == {"train": ["a.csv", "part/b.csv"], "validation": ["valid.csv"]}
    assert dump["cwd"] == str(root / "code")
    assert dump["helper"] == 42
    assert (root / "code" / "helper.py").is_file()

    # the config files
    assert dump["config"]["resourceconfig.json"] == {
        "current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "lo"
    }  # fmt: skip
    assert set(dump["config"]["inputdataconfig.json"]) == {"train", "validation"}
    assert dump["config"]["inputdataconfig.json"]["train"]["TrainingInputMode"] == "File"
    assert dump["config"]["hyperparameters.json"] == {
        "epochs": "10", "learning-rate": "0.1", "optimizer": "adam", "b": "2"
    }  # fmt: skip

    # every SM_* variable of the brief
    assert env["SM_MODEL_DIR"] == str(layout.model_dir)
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert env["SM_CHANNEL_TRAIN"] == str(root / "input" / "data" / "train")
    assert env["SM_CHANNEL_VALIDATION"] == str(root / "input" / "data" / "validation")
    assert env["SM_OUTPUT_DATA_DIR"] == str(root / "output" / "data")
    assert env["SM_OUTPUT_DIR"] == str(root / "output")
    assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == str(root / "output" / "intermediate")
    assert env["SM_INPUT_DIR"] == str(root / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(root / "input" / "config")
    assert json.loads(env["SM_HPS"]) == {"epochs": 10, "learning-rate": 0.1, "optimizer": "adam", "b": 2}
    assert env["SM_HP_EPOCHS"] == "10"
    assert env["SM_HP_LEARNING-RATE"] == "0.1"
    assert env["SM_HP_OPTIMIZER"] == "adam"
    assert env["SM_HP_B"] == "2"
    assert int(env["SM_NUM_CPUS"]) == os.cpu_count()
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_NETWORK_INTERFACE_NAME"] == "lo"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_MODULE_DIR"] == str(root / "code")
    assert json.loads(env["SM_USER_ARGS"]) == dump["argv"][1:]
    assert json.loads(env["SM_INPUT_DATA_CONFIG"]) == dump["config"]["inputdataconfig.json"]
    assert json.loads(env["SM_RESOURCE_CONFIG"]) == dump["config"]["resourceconfig.json"]
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["SM_FRAMEWORK_MODULE"] == ""
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["channel_input_dirs"]["train"] == env["SM_CHANNEL_TRAIN"]
    assert training_env["hyperparameters"] == json.loads(env["SM_HPS"])
    assert training_env["job_name"] == "dump-job"
    assert training_env["model_dir"] == env["SM_MODEL_DIR"]
    assert str(root / "code") in env["PYTHONPATH"].split(os.pathsep)

    # hyperparameters as sorted --name value arguments (one-letter names as -n)
    assert dump["argv"] == ["train.py", "-b", "2", "--epochs", "10", "--learning-rate", "0.1", "--optimizer", "adam"]


def test_model_and_output_are_packed_into_the_artifact_store(source_dir, train_dir, openmaker_home):
    record = _run(entry_point="train.py", source_dir=str(source_dir), channels={"train": str(train_dir)})
    assert record.status == "Completed", record.failure_reason
    assert record.name.startswith("train-")
    expected = openmaker_home / "artifacts" / record.name / "output" / "model.tar.gz"
    assert record.model_artifacts == str(expected)
    with tarfile.open(expected) as tar:
        # members relative to model/, as SageMaker packs them
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == ["code/inference.py", "model.txt"]
        assert tar.extractfile("model.txt").read() == b"weights"
    with tarfile.open(expected.with_name("output.tar.gz")) as tar:
        assert "dump.json" in tar.getnames()


def test_channels_from_s3_and_artifacts_to_s3(source_dir, s3_root):
    storage.write_text(f"{s3_root}/abalone/train/a.csv", "1,2,3\n")
    storage.write_text(f"{s3_root}/abalone/train/more/b.csv", "4,5,6\n")
    record = _run(
        entry_point="train.py",
        source_dir=str(source_dir),
        channels={"train": f"{s3_root}/abalone/train"},
        output_path=f"{s3_root}/jobs",
    )
    assert record.status == "Completed", record.failure_reason
    assert _dump(record)["data"] == {"train": ["a.csv", "more/b.csv"]}
    assert record.model_artifacts == f"{s3_root}/jobs/{record.name}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(record.model_artifacts))) as tar:
        assert tar.extractfile("model.txt").read() == b"weights"
    assert storage.exists(f"{s3_root}/jobs/{record.name}/output/output.tar.gz")


def test_missing_s3_channel_fails_before_start(source_dir, s3_root):
    record = _run(entry_point="train.py", source_dir=str(source_dir), channels={"train": f"{s3_root}/nothing/here"})
    assert record.status == "Failed"
    assert "'train'" in record.failure_reason and f"{s3_root}/nothing/here" in record.failure_reason


def test_metrics_are_parsed_from_the_log(source_dir, train_dir):
    lines = []
    record = run_training_job(
        TrainingJob(
            entry_point="train.py",
            source_dir=str(source_dir),
            channels={"train": str(train_dir)},
            metric_definitions=[
                {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
                {"Name": "validation:rmse", "Regex": r"validation:rmse ([0-9.]+)"},
            ],
        ),
        progress=False,
        log_sink=lines.append,
    )
    assert record.status == "Completed", record.failure_reason
    assert [(m.name, m.value) for m in record.metrics] == [
        ("train:loss", 1.0), ("train:loss", 0.5), ("train:loss", 0.3333), ("validation:rmse", 2.25)
    ]  # fmt: skip
    assert all(m.timestamp is not None for m in record.metrics)
    # streamed lines, stdout and stderr both, also kept in the log file
    assert "epoch=2 train_loss=0.3333" in lines and "validation:rmse 2.25 done" in lines
    log = Path(record.log_path).read_text()
    assert Path(record.log_path) == Path(record.job_dir) / "logs" / "job.log"
    assert "epoch=0 train_loss=1.0000" in log and "validation:rmse 2.25 done" in log
    final = {m["MetricName"]: m["Value"] for m in describe_job(record.name)["FinalMetricDataList"]}
    assert final == {"train:loss": 0.3333, "validation:rmse": 2.25}


def test_failing_script_fails_the_job_with_its_failure_file(tmp_path):
    src = _script(
        tmp_path,
        """
        import os, sys
        print("starting")
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("ValueError: feature_dim must be 10, got 8")
        sys.exit(3)
        """,
    )
    record = _run(entry_point="job.py", source_dir=str(src))
    assert record.status == "Failed"
    assert record.failure_reason == "ValueError: feature_dim must be 10, got 8"
    assert record.model_artifacts is None
    assert record.ended_at is not None and record.started_at is not None
    assert not (get_settings().home / "artifacts" / record.name).exists()


def test_crashing_script_fails_the_job_with_its_last_log_lines(tmp_path):
    src = _script(
        tmp_path,
        """
        for i in range(30):
            print(f"line {i}")
        raise RuntimeError("the data is broken")
        """,
    )
    record = _run(entry_point="job.py", source_dir=str(src))
    assert record.status == "Failed"
    reason = record.failure_reason
    assert "RuntimeError: the data is broken" in reason
    assert "exited with code 1" in reason
    assert "line 29" in reason
    assert "line 5\n" not in reason  # only the last 20 lines


def test_missing_channel_fails_before_start(tmp_path, train_dir):
    marker = tmp_path / "ran"
    src = _script(tmp_path, f"open({str(marker)!r}, 'w').write('ran')\n")
    record = _run(
        entry_point="job.py",
        source_dir=str(src),
        channels={"train": str(train_dir), "validation": str(tmp_path / "no-such-folder")},
    )
    assert record.status == "Failed"
    assert "channel 'validation'" in record.failure_reason
    assert str(tmp_path / "no-such-folder") in record.failure_reason
    assert "'train'" not in record.failure_reason
    assert record.started_at is None
    assert not marker.exists()
    assert not (get_settings().home / "jobs" / record.name).exists()


def test_script_without_source_dir_is_copied_alone(tmp_path):
    script = tmp_path / "alone.py"
    script.write_text("import os; open(os.path.join(os.environ['SM_MODEL_DIR'], 'x'), 'w').write('1')\n")
    record = _run(entry_point=str(script))
    assert record.status == "Completed", record.failure_reason
    assert sorted(p.name for p in (Path(record.job_dir) / "code").iterdir()) == ["alone.py"]
    assert record.entry_point == "alone.py"


def test_job_names_are_unique(tmp_path):
    src = _script(tmp_path, "print('ok')\n")
    assert _run(entry_point="job.py", source_dir=str(src), name="same").status == "Completed"
    with pytest.raises(ValueError, match="already exists"):
        _run(entry_point="job.py", source_dir=str(src), name="same")


def test_records_are_kept_in_the_database(database_url, monkeypatch, source_dir, train_dir, tmp_path):
    monkeypatch.setenv("OPENMAKER_DATABASE_URL", database_url)
    get_settings.cache_clear()
    good = _run(
        entry_point="train.py",
        source_dir=str(source_dir),
        channels={"train": str(train_dir)},
        hyperparameters={"epochs": 3},
        metric_definitions=[{"Name": "loss", "Regex": r"train_loss=([0-9.]+)"}],
        name="good-job",
    )
    bad = _run(entry_point="train.py", source_dir=str(source_dir), channels={"train": str(tmp_path / "x")}, name="bad-job")

    assert [j.name for j in list_jobs()] == ["bad-job", "good-job"]
    described = describe_job("good-job")
    assert described["TrainingJobStatus"] == "Completed"
    assert described["HyperParameters"]["epochs"] == "3"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == good.model_artifacts
    assert described["FinalMetricDataList"][0]["MetricName"] == "loss"
    assert described["FinalMetricDataList"][0]["Value"] == pytest.approx(0.3333)
    assert described["TrainingStartTime"] <= described["TrainingEndTime"]
    assert described["BillableTimeInSeconds"] >= 1
    assert describe_job("bad-job")["FailureReason"] == bad.failure_reason

    from openmaker import db
    from openmaker.training import records

    with db.session_scope(database_url) as session:
        assert [m.value for m in records.job_metrics(session, "good-job")] == pytest.approx([1.0, 0.5, 0.3333])
        assert records.get_job(session, "bad-job").status == "Failed"
    assert db.current_revision(database_url) == db.head_revision()  # migrated before the first write

    # the CLI reads the same records
    result = runner.invoke(app, ["jobs", "describe", "good-job"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["TrainingJobName"] == "good-job"
    result = runner.invoke(app, ["jobs", "list"])
    assert result.exit_code == 0 and "good-job" in result.stdout and "bad-job" in result.stdout
    result = runner.invoke(app, ["jobs", "logs", "good-job"])
    assert result.exit_code == 0 and "epoch=2 train_loss=0.3333" in result.stdout


def test_cli_train_runs_a_job_and_reports_it(source_dir, train_dir):
    result = runner.invoke(
        app,
        [
            "train", "--entry-point", "train.py", "--source-dir", str(source_dir),
            "--channel", f"train={train_dir}", "--hyperparameter", "epochs=5",
            "--metric-definition", "loss=train_loss=([0-9.]+)", "--job-name", "cli-job", "--quiet",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "TrainingJobName: cli-job" in result.stdout
    assert "TrainingJobStatus: Completed" in result.stdout
    assert "cli-job/output/model.tar.gz" in result.stdout
    described = describe_job("cli-job")
    assert described["HyperParameters"]["epochs"] == "5"
    assert len(described["FinalMetricDataList"]) == 1


def test_cli_train_exits_1_with_the_reason_when_the_job_fails(tmp_path):
    src = _script(tmp_path, "raise SystemExit('bad data in row 7')\n")
    result = runner.invoke(app, ["train", "--entry-point", "job.py", "--source-dir", str(src), "--quiet"])
    assert result.exit_code == 1
    assert "TrainingJobStatus: Failed" in result.stdout
    assert "bad data in row 7" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--channel", "train"], "NAME=VALUE"),
        (["--channel", "bad name=/tmp"], "invalid channel name"),
        (["--hyperparameter", "epochs"], "NAME=VALUE"),
        (["--metric-definition", "loss=([0-9"], "bad regex"),
        (["--metric-definition", "loss=loss [0-9]+"], "needs a group"),
        (["--engine", "spark"], "unknown engine"),
        (["--job-name", "no_underscores"], "invalid job name"),
        (["--algorithm", "linear-learner"], "not both"),
        (["--channel", "train=ftp://host/x"], "unsupported storage scheme"),
    ],
)
def test_cli_train_bad_input_exits_2(source_dir, args, message):
    result = runner.invoke(app, ["train", "--entry-point", "train.py", "--source-dir", str(source_dir), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list_jobs() == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--source-dir", "."], "either an entry point"),
        (["train", "--entry-point", "missing.py"], "not found"),
        (["train", "--algorithm", "xgboost"], "unknown algorithm 'xgboost'"),
        (["jobs", "describe", "nope"], "no training job named 'nope'"),
        (["jobs", "logs", "nope"], "no training job named 'nope'"),
    ],
)
def test_cli_bad_input_exits_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_user_args_follow_the_training_toolkit():
    assert user_args({"z": "1", "alpha": "0.5", "flag": "true", "name": "abc", "sagemaker_program": "x.py"}) == [
        "--alpha", "0.5", "--flag", "True", "--name", "abc", "-z", "1"
    ]  # fmt: skip
    assert user_args({"mapping": '{"a": 1, "b": "x"}'}) == ["--mapping", "a=1,b=x"]


def test_sagemaker_env_encodes_non_string_hyperparameters(tmp_path):
    env = sagemaker_env(JobLayout(tmp_path), ["train"], {"layers": "[64, 32]", "use-bias": "false"}, "train.py", num_cpus=3)
    assert env["SM_HP_LAYERS"] == "[64,32]"
    assert env["SM_HP_USE-BIAS"] == "false"
    assert env["SM_NUM_CPUS"] == "3"
    assert json.loads(env["SM_HPS"]) == {"layers": [64, 32], "use-bias": False}


def test_algorithm_job_runs_its_module_in_the_layout(tmp_path, monkeypatch, train_dir):
    # A stand-in built-in algorithm: a module run with python -m in the same layout.
    pkg = tmp_path / "algos"
    pkg.mkdir()
    (pkg / "fake_algo.py").write_text(
        "import json, os, sys\n"
        "hps = json.loads(os.environ['SM_HPS'])\n"
        "json.dump({'hps': hps, 'argv': sys.argv[1:], 'channels': sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN']))},\n"
        "          open(os.path.join(os.environ['SM_MODEL_DIR'], 'model.json'), 'w'))\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(pkg))
    from openmaker.training import algorithms

    monkeypatch.setitem(algorithms.ALGORITHMS, "fake", "fake_algo")
    record = _run(algorithm="fake", channels={"train": str(train_dir)}, hyperparameters={"feature_dim": 10})
    assert record.status == "Completed", record.failure_reason
    assert record.name.startswith("fake-") and record.algorithm == "fake"
    made = json.loads((Path(record.job_dir) / "model" / "model.json").read_text())
    assert made == {"hps": {"feature_dim": 10}, "argv": [], "channels": ["a.csv", "part"]}
    assert describe_job(record.name)["AlgorithmSpecification"]["AlgorithmName"] == "fake"


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_runs_the_same_job(local_ray, source_dir, train_dir):
    lines = []
    record = run_training_job(
        TrainingJob(
            entry_point="train.py",
            source_dir=str(source_dir),
            channels={"train": str(train_dir)},
            hyperparameters={"epochs": "2"},
            metric_definitions=[{"Name": "loss", "Regex": r"train_loss=([0-9.]+)"}],
            engine="ray",
            num_cpus=1,
        ),
        progress=False,
        log_sink=lines.append,
    )
    assert record.status == "Completed", record.failure_reason
    assert record.engine == "ray"
    dump = _dump(record)
    assert dump["argv"] == ["train.py", "--epochs", "2"]
    assert dump["env"]["SM_NUM_CPUS"] == "1"
    assert [m.value for m in record.metrics] == [1.0, 0.5, 0.3333]
    assert "validation:rmse 2.25 done" in lines
