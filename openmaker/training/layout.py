"""The SageMaker training job directory (``/opt/ml``) and the ``SM_*`` environment of a job.

A job runs in its own folder laid out like SageMaker's ``/opt/ml`` (see the
sagemaker-training-toolkit, ``environment.py``)::

    <root>/input/data/<channel>/        one folder per channel
    <root>/input/config/hyperparameters.json   all values are strings
    <root>/input/config/inputdataconfig.json
    <root>/input/config/resourceconfig.json
    <root>/model/                       packed into model.tar.gz
    <root>/output/data/                 packed into output.tar.gz
    <root>/output/intermediate/
    <root>/output/failure               the script's failure message
    <root>/code/                        the user's code, the script's cwd

and the script sees the variables the toolkit sets (``SM_MODEL_DIR``,
``SM_CHANNEL_<NAME>``, ``SM_HPS``, ``SM_HP_<NAME>`` ...), with the
hyperparameters also passed as ``--name value`` arguments.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CURRENT_HOST",
    "JobLayout",
    "decode_hyperparameters",
    "encode_hyperparameters",
    "sagemaker_env",
    "user_args",
]

CURRENT_HOST = "algo-1"
NETWORK_INTERFACE = "lo"
INSTANCE_GROUP = "homogeneousCluster"
INSTANCE_TYPE = "local"
#: Hyperparameters with this prefix are SageMaker's own, not the script's.
RESERVED_PREFIX = "sagemaker_"


class JobLayout:
    """The folders and files of one training job under ``root``; :meth:`create` makes them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    # folders
    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def input_data_dir(self) -> Path:
        return self.input_dir / "data"

    @property
    def input_config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def output_intermediate_dir(self) -> Path:
        return self.output_dir / "intermediate"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    # files
    @property
    def hyperparameters_file(self) -> Path:
        return self.input_config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.input_config_dir / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        return self.input_config_dir / "resourceconfig.json"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def success_file(self) -> Path:
        return self.output_dir / "success"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "job.log"

    def channel_dir(self, name: str) -> Path:
        """``input/data/<name>/``."""
        return self.input_data_dir / name

    def create(self) -> JobLayout:
        """Make every folder of the layout (existing ones are kept); returns self."""
        for folder in (
            self.input_data_dir,
            self.input_config_dir,
            self.model_dir,
            self.output_data_dir,
            self.output_intermediate_dir,
            self.code_dir,
            self.logs_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def write_config(
        self,
        hyperparameters: Mapping[str, Any],
        channels: Mapping[str, Mapping[str, Any] | None] | list[str],
    ) -> None:
        """Write ``input/config/*.json`` and create ``input/data/<channel>/`` for each channel.

        ``channels`` maps each channel name to extra ``inputdataconfig.json``
        fields (``ContentType`` ...), or is a plain list of names.
        """
        self.create()
        data_config = {}
        for name in channels:
            extra = channels[name] if isinstance(channels, Mapping) else None
            data_config[name] = {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
                **(extra or {}),
            }
            self.channel_dir(name).mkdir(parents=True, exist_ok=True)
        _write_json(self.hyperparameters_file, encode_hyperparameters(hyperparameters))
        _write_json(self.input_data_config_file, data_config)
        _write_json(self.resource_config_file, resource_config())

    def __repr__(self) -> str:
        return f"JobLayout({str(self.root)!r})"


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def resource_config() -> dict[str, Any]:
    """``resourceconfig.json`` of a one-host job."""
    return {"current_host": CURRENT_HOST, "hosts": [CURRENT_HOST], "network_interface_name": NETWORK_INTERFACE}


def encode_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker stores them: every value a string.

    Strings are kept as given; other values are JSON-encoded (``10`` -> ``"10"``,
    ``True`` -> ``"true"``, ``{"a": 1}`` -> ``'{"a": 1}'``), as the SageMaker SDK does.
    """
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in hyperparameters.items()}


def _decode_value(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def decode_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The script's hyperparameters as the toolkit hands them over: each string JSON-decoded
    where it parses (``"10"`` -> ``10``, ``"abc"`` stays ``"abc"``), reserved ``sagemaker_*`` ones left out.
    """
    return {
        k: _decode_value(v) for k, v in hyperparameters.items() if not str(k).startswith(RESERVED_PREFIX)
    }


def _arg_value(value: Any) -> str:
    # The toolkit's mapping._decode: dicts as k1=v1,k2=v2, everything else str().
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_arg_value(v)}" for k, v in value.items())
    if value is None:
        return ""
    return str(value)


def user_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The command-line arguments of the script: ``--name value`` per hyperparameter, sorted by name.

    As the SageMaker training toolkit does: values JSON-decoded first (so
    ``"true"`` becomes ``True``), one-letter names as ``-n value``,
    dict values as ``k1=v1,k2=v2``, reserved ``sagemaker_*`` names left out.
    """
    decoded = decode_hyperparameters(hyperparameters)
    args: list[str] = []
    for name in sorted(decoded):
        args += [f"-{name}" if len(name) == 1 else f"--{name}", _arg_value(decoded[name])]
    return args


def _env_value(value: Any) -> str:
    # The toolkit's mapping.to_env_vars: strings as they are, the rest compact sorted JSON.
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def sagemaker_env(
    layout: JobLayout,
    channels: list[str] | Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    entry_point: str,
    *,
    job_name: str = "",
    num_cpus: int | None = None,
    num_gpus: int = 0,
    framework_module: str = "",
    log_level: int = 20,
    input_data_config: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The ``SM_*`` variables of a job running in ``layout``, as the SageMaker training toolkit sets them.

    ``entry_point`` is the script (``train.py``) or, for a built-in algorithm,
    its module. ``channels`` is the channel names (a mapping's keys count).
    ``input_data_config`` defaults to what :meth:`JobLayout.write_config`
    writes. Returns only the new variables; the caller merges them into the
    process environment.
    """
    names = sorted(channels)
    hps = decode_hyperparameters(hyperparameters)
    args = user_args(hyperparameters)
    if input_data_config is None:
        input_data_config = {
            name: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
            for name in names
        }
    hosts = [CURRENT_HOST]
    module_name = entry_point[:-3] if entry_point.endswith(".py") else entry_point
    # The toolkit's Environment properties; each becomes SM_<UPPER NAME>, and all together SM_TRAINING_ENV.
    training_env: dict[str, Any] = {
        "additional_framework_parameters": {},
        "channel_input_dirs": {name: str(layout.channel_dir(name)) for name in names},
        "current_host": CURRENT_HOST,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_group_hosts": hosts,
        "current_instance_type": INSTANCE_TYPE,
        "distribution_hosts": [],
        "distribution_instance_groups": [],
        "framework_module": framework_module,
        "hosts": hosts,
        "hyperparameters": hps,
        "input_config_dir": str(layout.input_config_dir),
        "input_data_config": dict(input_data_config),
        "input_dir": str(layout.input_dir),
        "instance_groups": [INSTANCE_GROUP],
        "instance_groups_dict": {
            INSTANCE_GROUP: {"instance_group_name": INSTANCE_GROUP, "instance_type": INSTANCE_TYPE, "hosts": hosts}
        },
        "is_hetero": False,
        "is_master": True,
        "is_modelparallel_enabled": None,
        "job_name": job_name,
        "log_level": log_level,
        "master_hostname": CURRENT_HOST,
        "model_dir": str(layout.model_dir),
        "module_dir": str(layout.code_dir),
        "module_name": module_name,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": num_cpus if num_cpus is not None else (os.cpu_count() or 1),
        "num_gpus": num_gpus,
        "num_neurons": 0,
        "output_data_dir": str(layout.output_data_dir),
        "output_dir": str(layout.output_dir),
        "output_intermediate_dir": str(layout.output_intermediate_dir),
        "resource_config": resource_config(),
        "user_entry_point": entry_point,
    }
    env = {
        "SM_HOSTS": _env_value(hosts),
        "SM_NETWORK_INTERFACE_NAME": NETWORK_INTERFACE,
        "SM_HPS": _env_value(hps),
        "SM_USER_ENTRY_POINT": entry_point,
        "SM_FRAMEWORK_PARAMS": "{}",
        "SM_RESOURCE_CONFIG": _env_value(resource_config()),
        "SM_INPUT_DATA_CONFIG": _env_value(dict(input_data_config)),
        "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
        "SM_CHANNELS": _env_value(names),
        "SM_CURRENT_HOST": CURRENT_HOST,
        "SM_CURRENT_INSTANCE_TYPE": INSTANCE_TYPE,
        "SM_CURRENT_INSTANCE_GROUP": INSTANCE_GROUP,
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": _env_value(hosts),
        "SM_INSTANCE_GROUPS": _env_value([INSTANCE_GROUP]),
        "SM_INSTANCE_GROUPS_DICT": _env_value(training_env["instance_groups_dict"]),
        "SM_DISTRIBUTION_INSTANCE_GROUPS": "[]",
        "SM_IS_HETERO": "false",
        "SM_MODULE_NAME": module_name,
        "SM_LOG_LEVEL": str(log_level),
        "SM_FRAMEWORK_MODULE": framework_module,
        "SM_INPUT_DIR": str(layout.input_dir),
        "SM_INPUT_CONFIG_DIR": str(layout.input_config_dir),
        "SM_OUTPUT_DIR": str(layout.output_dir),
        "SM_NUM_CPUS": str(training_env["num_cpus"]),
        "SM_NUM_GPUS": str(num_gpus),
        "SM_NUM_NEURONS": "0",
        "SM_MODEL_DIR": str(layout.model_dir),
        "SM_MODULE_DIR": str(layout.code_dir),
        "SM_TRAINING_ENV": _env_value(training_env),
        "SM_USER_ARGS": _env_value(args),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(layout.output_intermediate_dir),
        # The toolkit's base-dir override, so that code using it finds this job's folder.
        "SAGEMAKER_BASE_DIR": str(layout.root),
        "SAGEMAKER_PROGRAM": entry_point,
    }
    if job_name:
        env["TRAINING_JOB_NAME"] = job_name
    for name in names:
        env[f"SM_CHANNEL_{name.upper()}"] = str(layout.channel_dir(name))
    for name, value in hps.items():
        env[f"SM_HP_{name.upper()}"] = _env_value(value)
    return env
