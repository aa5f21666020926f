"""Follow the centre line, go fast, and finish the lap in few steps.

Per step the car earns:
  - up to 1 for staying near the centre line (1 on the line, 0 at the border), scaled up to x2 by speed;
  - up to 1 for its pace so far: progress per step relative to a lap driven at MAX_SPEED
    (the "progress / steps" idiom, made independent of the track's length);
  - on the step that completes the lap, a bonus of 10 x (steps at MAX_SPEED / steps taken).
Off the track (or with a wheel off it) the reward is 1e-3.
"""

import math

MAX_SPEED = 4.0  # m/s: the top speed of your action space
STEPS_PER_SECOND = 15.0  # one step per camera frame


def reward_function(params):
    if params["is_offtrack"] or not params["all_wheels_on_track"]:
        return 1e-3

    half_width = 0.5 * params["track_width"]
    centre = max(0.0, 1.0 - params["distance_from_center"] / half_width)
    speed = min(params["speed"] / MAX_SPEED, 1.0)

    steps = max(params["steps"], 1)
    best_steps = params["track_length"] / MAX_SPEED * STEPS_PER_SECOND  # a lap at top speed
    pace = min(params["progress"] / steps * best_steps / 100.0, 1.0)

    reward = centre * (1.0 + speed) + pace
    if params["progress"] >= 100.0:
        reward += 10.0 * min(best_steps / steps, 1.0)
    if not math.isfinite(reward):
        return 1e-3
    return float(reward)
