"""model_metadata.json: parsing, defaults, validation errors, round trips, action → command scaling."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from openmaker.racer import actions
from openmaker.racer.actions import ActionSpace, default_metadata, load_action_space, write_metadata
from openmaker.racer.errors import RacerError

EXAMPLE = resources.files("openmaker.racer").joinpath("examples/model_metadata.json")


def _write(tmp_path, doc, name="model_metadata.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _bad(tmp_path, doc, *needles):
    p = _write(tmp_path, doc)
    with pytest.raises(RacerError) as exc:
        load_action_space(p)
    msg = str(exc.value)
    assert str(p) in msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_limits_match_the_simulator():
    from openmaker.racer import physics

    assert actions.MAX_STEERING_DEG == physics.MAX_STEERING_DEG
    assert (actions.MIN_SPEED, actions.MAX_SPEED) == (physics.MIN_SPEED, physics.MAX_SPEED)


def test_default_metadata_is_the_console_default():
    m = default_metadata()
    assert m["action_space_type"] == "discrete" and m["version"] == "5"
    assert m["sensor"] == ["FRONT_FACING_CAMERA"]
    assert m["neural_network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW" and m["training_algorithm"] == "clipped_ppo"
    space = ActionSpace.from_metadata(m)
    assert space.n == 10
    assert sorted(set(space.steering.tolist())) == [-30, -15, 0, 15, 30]
    assert sorted(set(space.speed.tolist())) == [0.5, 1.0]
    assert default_metadata() is not m  # a fresh dict each time


def test_example_file_loads():
    space = load_action_space(EXAMPLE)
    assert space.kind == "discrete" and space.is_discrete
    assert 8 <= space.n <= 16
    assert space.sensor == ["FRONT_FACING_CAMERA"] and space.version == "5"
    assert space.speed_high <= actions.MAX_SPEED and space.steering_low == -30


def test_discrete_with_extra_keys_and_defaults(tmp_path):
    doc = {"action_space": [{"steering_angle": -30, "speed": 0.6, "index": 0},
                            {"steering_angle": 0, "speed": 1.2, "index": 1}, {"steering_angle": 30, "speed": 4}]}
    space = load_action_space(_write(tmp_path, doc))
    assert space.kind == "discrete" and space.n == 3
    assert space.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert space.training_algorithm == "clipped_ppo"
    assert space.sensor == ["FRONT_FACING_CAMERA"] and space.version == "1"
    assert space.actions[0]["index"] == 0
    np.testing.assert_array_equal(space.low, [-30, 0.6])
    np.testing.assert_array_equal(space.high, [30, 4])
    steer, speed = space.commands(np.array([2, 0, 1, 1]))
    np.testing.assert_array_equal(steer, [30, -30, 0, 0])
    np.testing.assert_array_equal(speed, [4, 0.6, 1.2, 1.2])
    assert steer.dtype == np.float64


def test_discrete_commands_reject_bad_ids(tmp_path):
    space = ActionSpace.from_metadata(default_metadata())
    with pytest.raises(RacerError, match="out of range"):
        space.commands([0, 10])
    with pytest.raises(RacerError, match="out of range"):
        space.commands([-1])
    with pytest.raises(RacerError, match="integer"):
        space.commands(np.array([0.5]))
    steer, speed = space.commands(np.array([3.0]))  # whole-number floats are ids
    assert steer[0] == -15 and speed[0] == 1.0


def test_continuous_parse_and_scaling(tmp_path):
    doc = {"action_space": {"steering_angle": {"low": -20, "high": 30}, "speed": {"low": 1, "high": 3}},
           "action_space_type": "continuous", "sensor": ["FRONT_FACING_CAMERA"], "version": "5"}
    space = load_action_space(_write(tmp_path, doc))
    assert space.kind == "continuous" and space.n == 0 and space.actions == []
    a = np.array([[-1, -1], [1, 1], [0, 0], [2, -3], [0.5, -0.5]], dtype=np.float32)
    steer, speed = space.commands(a)
    np.testing.assert_allclose(steer, [-20, 30, 5, 30, 17.5])
    np.testing.assert_allclose(speed, [1, 3, 2, 1, 1.5])
    with pytest.raises(RacerError, match=r"shape \(\.\.\., 2\)"):
        space.commands(np.zeros((4, 3)))


def test_bad_json_names_line_and_column(tmp_path):
    text = '{\n  "action_space": [\n    {"steering_angle": 0, "speed": 1},\n  ]\n}\n'
    msg = _bad(tmp_path, text, "invalid JSON")
    assert f"{tmp_path / 'model_metadata.json'}:4:3:" in msg


def test_not_utf8_and_empty(tmp_path):
    p = tmp_path / "model_metadata.json"
    p.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(RacerError, match="UTF-8"):
        load_action_space(p)
    _bad(tmp_path, "", ":1:1: invalid JSON")


@pytest.mark.parametrize("doc,needles", [
    ([1, 2], ["top level must be a JSON object"]),
    ({"sensor": ["FRONT_FACING_CAMERA"]}, ["no action_space"]),
    ({"action_space": []}, ["empty"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}] * 51}, ["51 actions", "at most 50"]),
    ({"action_space": [{"steering_angle": 45, "speed": 1}]}, ["action_space[0].steering_angle", "outside [-30, 30]", "clips"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}, {"steering_angle": 0, "speed": 5}]},
     ["action_space[1].speed", "outside [0.1, 4]", "simulator clips speed"]),
    ({"action_space": [{"steering_angle": 0, "speed": 0.05}]}, ["outside [0.1, 4]"]),
    ({"action_space": [{"steering_angle": 0, "speed": "1"}]}, ["must be a number", "string"]),
    ({"action_space": [{"steering_angle": True, "speed": 1}]}, ["must be a number", "boolean"]),
    ({"action_space": [{"steering_angle": 0}]}, ["action_space[0] has no speed"]),
    ({"action_space": [[0, 1]]}, ["action_space[0] must be an object"]),
    ({"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 2}}},
     ["action_space_type", "continuous"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "action_space_type": "continuous"}, ["discrete"]),
    ({"action_space": {"steering_angle": {"low": 10, "high": 10}, "speed": {"low": 1, "high": 2}},
      "action_space_type": "continuous"}, ["low (10) must be below high (10)"]),
    ({"action_space": {"steering_angle": {"low": -30, "high": 30}}, "action_space_type": "continuous"},
     ["no speed range"]),
    ({"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 9}},
      "action_space_type": "continuous"}, ["action_space.speed.high", "outside [0.1, 4]"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "action_space_type": "box"}, ["'discrete' or 'continuous'"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "training_algorithm": "sac"},
     ["'sac' is not supported", "only clipped_ppo"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "training_algorithm": "dqn"}, ["training_algorithm"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "neural_network": "RESNET"}, ["neural_network", "RESNET"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["SONAR"]}, ["unknown sensor 'SONAR'"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["FRONT_FACING_CAMERA", "STEREO_CAMERAS"]},
     ["exactly one camera"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": "FRONT_FACING_CAMERA"}, ["list of names"]),
    ({"action_space": [{"steering_angle": 0, "speed": 1}], "version": "five"}, ["version"]),
])
def test_malformed_metadata(tmp_path, doc, needles):
    _bad(tmp_path, doc, *needles)


def test_nan_and_duplicate_keys(tmp_path):
    _bad(tmp_path, '{"action_space": [{"steering_angle": NaN, "speed": 1}]}', "finite")
    _bad(tmp_path, '{"action_space": [{"steering_angle": 0, "speed": 1, "speed": 2}]}', "'speed' appears twice")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(RacerError, match="no such file"):
        load_action_space(tmp_path / "nope.json")
    with pytest.raises(RacerError, match="directory"):
        load_action_space(tmp_path)


def test_round_trip_is_byte_for_byte(tmp_path):
    # odd formatting, CRLF, unknown keys, key order: all survive unchanged
    text = ('{"version":"5",  "action_space" : [ {"speed":1.50, "steering_angle":-30,"index":0},\r\n'
            '{"steering_angle":30,"speed":2,"index":1}],"lidar_config":{"num_sectors":8},'
            '"sensor":["FRONT_FACING_CAMERA","SECTOR_LIDAR"],"custom":{"note":"kept"}}\r\n')
    src = tmp_path / "in.json"
    src.write_bytes(text.encode())
    space = load_action_space(src)
    out = write_metadata(space, tmp_path / "model" / "model_metadata.json")
    assert out.read_bytes() == text.encode()
    assert json.loads(out.read_text()) == space.metadata
    again = load_action_space(out)
    assert again.metadata == space.metadata and again.n == 2


def test_round_trip_of_example_and_changed_metadata(tmp_path):
    space = load_action_space(EXAMPLE)
    out = write_metadata(space, tmp_path / "a.json")
    assert out.read_bytes() == EXAMPLE.read_bytes()
    space.metadata["custom"] = 1  # changed after reading: written as JSON of the new content
    out = write_metadata(space, tmp_path / "b.json")
    assert json.loads(out.read_text())["custom"] == 1
    # a dict is validated and written
    out = write_metadata(default_metadata(), tmp_path / "c.json")
    assert json.loads(out.read_text()) == default_metadata()
    with pytest.raises(RacerError, match="no action_space"):
        write_metadata({"version": "5"}, tmp_path / "d.json")
