"""SageMaker's built-in Linear Learner as a Python estimator, trained in torch.

``LinearLearner(predictor_type='regressor').fit(X, y).predict(X)`` trains
``num_models`` linear models side by side as one batched computation: the
weights of all models are the columns of one ``[d, num_models * out]``
matrix, so a mini-batch costs two matrix products for every model together,
with analytic gradients (no autograd) and per-model learning rate, ``wd``
and ``l1`` vectors. Each epoch every model is scored on the validation set
(or a 20% sample held out of train when there is none); each model keeps its
best epoch, training stops early when the best model stops improving, and
the best model is kept. The normalisation of features and label is folded
into the final weights, so prediction is ``X @ coef_ + intercept_``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from openmaker.training.linear_learner.params import (
    BINARY_LOSSES,
    IGNORED_PREFIXES,
    LOSS_ALIASES,
    MULTICLASS_LOSSES,
    OPTIMIZERS,
    PREDICTOR_TYPES,
    REGRESSION_LOSSES,
    SELECTION_CRITERIA_SUPPORTED,
    SELECTION_CRITERIA_UNSUPPORTED,
    HyperparameterError,
    auto_or,
    is_auto,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
)

FORMAT_VERSION = 1
MODEL_FILE = "model.json"

#: Learning rates tried by the parallel models when ``learning_rate=auto`` (cycled).
AUTO_LEARNING_RATES = (0.01, 0.1, 0.001, 0.03, 0.003, 0.05, 0.005, 0.02)
#: Multipliers of an explicit value for models 1..n ("close parameters").
CLOSE_FACTORS = (1.0, 0.5, 2.0, 0.25, 4.0, 0.1, 10.0, 0.75, 1.5, 0.05, 20.0)
AUTO_WD = (0.0, 1e-4, 0.0, 1e-3, 1e-5, 0.0, 1e-4, 0.0)
AUTO_L1 = (0.0, 0.0, 1e-5, 0.0, 0.0, 1e-4, 0.0, 1e-6)
AUTO_NUM_MODELS = 8

OBJECTIVE_NAMES = {
    "squared_loss": "mse_objective",
    "absolute_loss": "absolute_loss_objective",
    "eps_insensitive_squared_loss": "eps_insensitive_squared_loss_objective",
    "eps_insensitive_absolute_loss": "eps_insensitive_absolute_loss_objective",
    "quantile_loss": "quantile_loss_objective",
    "huber_loss": "huber_loss_objective",
    "logistic": "binary_cross_entropy_objective",
    "hinge_loss": "hinge_loss_objective",
    "softmax_loss": "multiclass_cross_entropy_objective",
}

HOST = "algo-1"


class DataError(ValueError):
    """Training or prediction data that does not fit the model; the message says where."""


class LinearLearner:
    """SageMaker's Linear Learner: hyperparameters with SageMaker's names, defaults and string values.

    Learned state (after ``fit``) ends in ``_``: ``coef_`` ``[d, out]`` and
    ``intercept_`` ``[out]`` in the units of the raw data, ``best_model_``,
    ``model_hyperparameters_``, ``validation_metrics_``, ``history_``,
    ``epochs_trained_``. ``predict(X)`` returns ``{"score": ..., "predicted_label": ...}``
    (no ``predicted_label`` for a regressor).
    """

    def __init__(
        self,
        predictor_type: str | None = None,
        feature_dim: Any = "auto",
        num_classes: Any = None,
        mini_batch_size: Any = 1000,
        epochs: Any = 15,
        learning_rate: Any = "auto",
        optimizer: Any = "auto",
        wd: Any = "auto",
        l1: Any = "auto",
        loss: Any = "auto",
        normalize_data: Any = True,
        normalize_label: Any = "auto",
        unbias_data: Any = "auto",
        unbias_label: Any = "auto",
        num_models: Any = "auto",
        num_point_for_scaler: Any = 10000,
        early_stopping_patience: Any = 3,
        early_stopping_tolerance: Any = 0.001,
        use_bias: Any = True,
        init_method: Any = "uniform",
        init_scale: Any = 0.07,
        init_sigma: Any = 0.01,
        init_bias: Any = 0.0,
        momentum: Any = "auto",
        beta_1: Any = "auto",
        beta_2: Any = "auto",
        bias_lr_mult: Any = "auto",
        bias_wd_mult: Any = "auto",
        use_lr_scheduler: Any = True,
        lr_scheduler_step: Any = "auto",
        lr_scheduler_factor: Any = "auto",
        lr_scheduler_minimum_lr: Any = "auto",
        margin: Any = 1.0,
        quantile: Any = 0.5,
        loss_insensitivity: Any = 0.01,
        huber_delta: Any = 1.0,
        binary_classifier_model_selection_criteria: Any = "accuracy",
        f_beta: Any = 1.0,
        target_precision: Any = 0.8,
        target_recall: Any = 0.8,
        positive_example_weight_mult: Any = 1.0,
        balance_multiclass_weights: Any = False,
        num_calibration_samples: Any = "auto",
        accuracy_top_k: Any = 3,
        seed: Any = 0,
    ) -> None:
        self._raw = dict(locals())
        self._raw.pop("self")
        for name, value in self._raw.items():
            setattr(self, name, value)
        self._hp = self._resolve(self._raw)

    # ------------------------------------------------------------------ hyperparameters

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        import inspect

        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    @classmethod
    def from_hyperparameters(cls, hyperparameters: dict[str, Any]) -> "LinearLearner":
        """Build from SageMaker's ``hyperparameters.json`` (string values); unknown names are errors."""
        known = set(cls.hyperparameter_names())
        kwargs: dict[str, Any] = {}
        unknown = []
        for name, value in hyperparameters.items():
            if name.startswith(IGNORED_PREFIXES):
                continue
            if name not in known:
                unknown.append(name)
            else:
                kwargs[name] = value
        if unknown:
            raise HyperparameterError(
                f"unknown hyperparameter(s): {', '.join(sorted(unknown))}; Linear Learner accepts "
                f"{', '.join(sorted(known))}"
            )
        return cls(**kwargs)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return dict(self._raw)

    def set_params(self, **params: Any) -> "LinearLearner":
        raw = dict(self._raw)
        for name, value in params.items():
            if name not in raw:
                raise HyperparameterError(f"unknown hyperparameter {name!r}")
            raw[name] = value
        self._hp = self._resolve(raw)
        self._raw = raw
        for name, value in raw.items():
            setattr(self, name, value)
        return self

    @staticmethod
    def _resolve(raw: dict[str, Any]) -> dict[str, Any]:
        hp: dict[str, Any] = {}
        ptype = raw["predictor_type"]
        if is_auto(ptype) or (isinstance(ptype, str) and not ptype.strip()):
            raise HyperparameterError(
                "predictor_type is required: regressor, binary_classifier or multiclass_classifier"
            )
        hp["predictor_type"] = ptype = parse_choice("predictor_type", ptype, PREDICTOR_TYPES)
        if ptype == "multiclass_classifier":
            if is_auto(raw["num_classes"]) or raw["num_classes"] == "":
                raise HyperparameterError(
                    "num_classes is required when predictor_type is multiclass_classifier (3 to 1000000)"
                )
            hp["num_classes"] = parse_int("num_classes", raw["num_classes"], 3, 1_000_000)
        else:
            hp["num_classes"] = 2 if ptype == "binary_classifier" else None
        hp["feature_dim"] = auto_or(parse_int, "feature_dim", raw["feature_dim"], 1)
        hp["mini_batch_size"] = parse_int("mini_batch_size", raw["mini_batch_size"], 1)
        hp["epochs"] = parse_int("epochs", raw["epochs"], 1)
        hp["learning_rate"] = auto_or(parse_float, "learning_rate", raw["learning_rate"], 0.0, low_open=True)
        opt = raw["optimizer"]
        hp["optimizer"] = "adam" if is_auto(opt) else parse_choice("optimizer", opt, OPTIMIZERS)
        hp["wd"] = auto_or(parse_float, "wd", raw["wd"], 0.0)
        hp["l1"] = auto_or(parse_float, "l1", raw["l1"], 0.0)

        valid = {"regressor": REGRESSION_LOSSES, "binary_classifier": BINARY_LOSSES,
                 "multiclass_classifier": MULTICLASS_LOSSES}[ptype]
        loss = raw["loss"]
        if is_auto(loss):
            hp["loss"] = valid[0]
        else:
            text = LOSS_ALIASES.get(str(loss).strip().lower(), str(loss).strip().lower())
            all_losses = REGRESSION_LOSSES + BINARY_LOSSES + MULTICLASS_LOSSES
            if text not in all_losses:
                raise HyperparameterError(f"loss must be auto or one of {', '.join(all_losses)}; got {loss!r}")
            if text not in valid:
                raise HyperparameterError(
                    f"loss {text} does not fit predictor_type {ptype}; use auto or one of {', '.join(valid)}"
                )
            hp["loss"] = text

        hp["normalize_data"] = parse_bool("normalize_data", raw["normalize_data"])
        nl = raw["normalize_label"]
        hp["normalize_label"] = (ptype == "regressor") if is_auto(nl) else parse_bool("normalize_label", nl)
        if ptype != "regressor":
            hp["normalize_label"] = False  # labels of classifiers are class indices
        hp["use_bias"] = parse_bool("use_bias", raw["use_bias"])
        ud = raw["unbias_data"]
        hp["unbias_data"] = (hp["normalize_data"] and hp["use_bias"]) if is_auto(ud) else parse_bool("unbias_data", ud)
        ul = raw["unbias_label"]
        hp["unbias_label"] = (hp["normalize_label"] and hp["use_bias"]) if is_auto(ul) else parse_bool(
            "unbias_label", ul)
        if not hp["use_bias"] and (hp["unbias_data"] or hp["unbias_label"]):
            raise HyperparameterError("unbias_data/unbias_label need use_bias=true (a model without bias "
                                      "cannot undo the centring)")
        if ptype != "regressor":
            hp["unbias_label"] = False
        nm = raw["num_models"]
        hp["num_models"] = AUTO_NUM_MODELS if is_auto(nm) else parse_int("num_models", nm, 1, 1024)
        hp["num_point_for_scaler"] = parse_int("num_point_for_scaler", raw["num_point_for_scaler"], 1)
        hp["early_stopping_patience"] = parse_int("early_stopping_patience", raw["early_stopping_patience"], 1)
        hp["early_stopping_tolerance"] = parse_float("early_stopping_tolerance", raw["early_stopping_tolerance"], 0.0)
        hp["init_method"] = parse_choice("init_method", raw["init_method"], ("uniform", "normal"))
        hp["init_scale"] = parse_float("init_scale", raw["init_scale"], 0.0, low_open=True)
        hp["init_sigma"] = parse_float("init_sigma", raw["init_sigma"], 0.0, low_open=True)
        hp["init_bias"] = parse_float("init_bias", raw["init_bias"])
        m = raw["momentum"]
        hp["momentum"] = 0.9 if is_auto(m) else parse_float("momentum", m, 0.0, 1.0)
        b1, b2 = raw["beta_1"], raw["beta_2"]
        hp["beta_1"] = 0.9 if is_auto(b1) else parse_float("beta_1", b1, 0.0, 1.0)
        hp["beta_2"] = 0.999 if is_auto(b2) else parse_float("beta_2", b2, 0.0, 1.0)
        if hp["beta_1"] >= 1.0 or hp["beta_2"] >= 1.0:
            raise HyperparameterError("beta_1 and beta_2 must be < 1")
        blr, bwd = raw["bias_lr_mult"], raw["bias_wd_mult"]
        hp["bias_lr_mult"] = 1.0 if is_auto(blr) else parse_float("bias_lr_mult", blr, 0.0, low_open=True)
        hp["bias_wd_mult"] = 0.0 if is_auto(bwd) else parse_float("bias_wd_mult", bwd, 0.0)
        hp["use_lr_scheduler"] = parse_bool("use_lr_scheduler", raw["use_lr_scheduler"])
        hp["lr_scheduler_step"] = auto_or(parse_int, "lr_scheduler_step", raw["lr_scheduler_step"], 1)
        f = raw["lr_scheduler_factor"]
        hp["lr_scheduler_factor"] = 0.9 if is_auto(f) else parse_float("lr_scheduler_factor", f, 0.0, 1.0,
                                                                         low_open=True)
        mlr = raw["lr_scheduler_minimum_lr"]
        hp["lr_scheduler_minimum_lr"] = 1e-5 if is_auto(mlr) else parse_float("lr_scheduler_minimum_lr", mlr, 0.0)
        hp["margin"] = parse_float("margin", raw["margin"], 0.0, low_open=True)
        hp["quantile"] = parse_float("quantile", raw["quantile"], 0.0, 1.0, low_open=True)
        if hp["quantile"] >= 1.0:
            raise HyperparameterError(f"quantile must be < 1, got {hp['quantile']:g}")
        hp["loss_insensitivity"] = parse_float("loss_insensitivity", raw["loss_insensitivity"], 0.0)
        hp["huber_delta"] = parse_float("huber_delta", raw["huber_delta"], 0.0, low_open=True)
        crit = raw["binary_classifier_model_selection_criteria"]
        crit = parse_choice("binary_classifier_model_selection_criteria", crit,
                            SELECTION_CRITERIA_SUPPORTED + SELECTION_CRITERIA_UNSUPPORTED)
        if crit in SELECTION_CRITERIA_UNSUPPORTED and ptype == "binary_classifier":
            raise NotImplementedError(
                f"binary_classifier_model_selection_criteria={crit} (threshold calibration) is not implemented; "
                f"use one of {', '.join(SELECTION_CRITERIA_SUPPORTED)}"
            )
        hp["binary_classifier_model_selection_criteria"] = crit
        hp["f_beta"] = parse_float("f_beta", raw["f_beta"], 0.0, low_open=True)
        hp["target_precision"] = parse_float("target_precision", raw["target_precision"], 0.0, 1.0)
        hp["target_recall"] = parse_float("target_recall", raw["target_recall"], 0.0, 1.0)
        pw = raw["positive_example_weight_mult"]
        if is_auto(pw):
            hp["positive_example_weight_mult"] = 1.0
        elif isinstance(pw, str) and pw.strip().lower() == "balanced":
            hp["positive_example_weight_mult"] = "balanced"
        else:
            try:
                hp["positive_example_weight_mult"] = parse_float("positive_example_weight_mult", pw, 0.0,
                                                                 low_open=True)
            except HyperparameterError:
                raise HyperparameterError(
                    f"positive_example_weight_mult must be auto, balanced or a number > 0, got {pw!r}") from None
        hp["balance_multiclass_weights"] = parse_bool("balance_multiclass_weights", raw["balance_multiclass_weights"])
        ncs = raw["num_calibration_samples"]
        hp["num_calibration_samples"] = auto_or(parse_int, "num_calibration_samples", ncs, 1)
        hp["accuracy_top_k"] = parse_int("accuracy_top_k", raw["accuracy_top_k"], 1)
        hp["seed"] = parse_int("seed", raw["seed"], 0)
        return hp

    def _model_grid(self) -> list[dict[str, float]]:
        """Learning rate / wd / l1 of each parallel model: model 0 uses the given values."""
        hp = self._hp
        grid = []
        for i in range(hp["num_models"]):
            factor = CLOSE_FACTORS[i % len(CLOSE_FACTORS)]
            lr = AUTO_LEARNING_RATES[i % len(AUTO_LEARNING_RATES)] if hp["learning_rate"] is None \
                else hp["learning_rate"] * factor
            wd = AUTO_WD[i % len(AUTO_WD)] if hp["wd"] is None else hp["wd"] * factor
            l1 = AUTO_L1[i % len(AUTO_L1)] if hp["l1"] is None else hp["l1"] * factor
            if i >= len(AUTO_LEARNING_RATES) and hp["learning_rate"] is None:
                lr *= CLOSE_FACTORS[(i // len(AUTO_LEARNING_RATES)) % len(CLOSE_FACTORS)]
            grid.append({"learning_rate": lr, "wd": wd, "l1": l1})
        return grid

    # ------------------------------------------------------------------ data checks

    @property
    def _out(self) -> int:
        hp = self._hp
        return hp["num_classes"] if hp["predictor_type"] == "multiclass_classifier" else 1

    def _check_X(self, X: Any, what: str, feature_dim: int | None) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what} is not numeric: {exc}") from None
        if X.ndim == 1:
            X = X.reshape(1, -1) if what.startswith("prediction") else X.reshape(-1, 1)
        if X.ndim != 2:
            raise DataError(f"{what} must be 2-dimensional [rows, features], got shape {X.shape}")
        if X.shape[0] == 0:
            raise DataError(f"{what} has no rows")
        if feature_dim is not None and X.shape[1] != feature_dim:
            raise DataError(f"{what} has {X.shape[1]} features but feature_dim is {feature_dim}")
        bad = ~np.isfinite(X)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{what} has a non-finite value at row {r + 1}, feature {c + 1}")
        return X

    def _check_y(self, y: Any, n: int, what: str) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if y.shape[0] != n:
            raise DataError(f"{what} has {y.shape[0]} labels for {n} rows")
        bad = ~np.isfinite(y)
        if bad.any():
            raise DataError(f"{what} has a non-finite label at row {int(np.argmax(bad)) + 1}")
        ptype = self._hp["predictor_type"]
        if ptype == "binary_classifier":
            wrong = (y != 0) & (y != 1)
            if wrong.any():
                i = int(np.argmax(wrong))
                raise DataError(f"{what}: binary_classifier labels must be 0 or 1; row {i + 1} has {y[i]:g}")
        elif ptype == "multiclass_classifier":
            k = self._hp["num_classes"]
            wrong = (y != np.round(y)) | (y < 0) | (y >= k)
            if wrong.any():
                i = int(np.argmax(wrong))
                raise DataError(f"{what}: multiclass_classifier labels must be integers 0..{k - 1} "
                                f"(num_classes={k}); row {i + 1} has {y[i]:g}")
        return y

    # ------------------------------------------------------------------ training

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None,
            log: Callable[[str], None] | None = None) -> "LinearLearner":
        hp = self._hp
        say = log or (lambda line: None)
        X = self._check_X(X, "training data", hp["feature_dim"])
        d = X.shape[1]
        y = self._check_y(y, X.shape[0], "training data")
        rng = np.random.default_rng(hp["seed"])
        if X_val is not None:
            X_val = self._check_X(X_val, "validation data", d)
            if y_val is None:
                raise DataError("X_val given without y_val")
            y_val = self._check_y(y_val, X_val.shape[0], "validation data")
            X_tr, y_tr = X, y
            validation_source = "validation channel"
        elif X.shape[0] >= 10:
            perm = rng.permutation(X.shape[0])
            n_val = max(1, int(round(0.2 * X.shape[0])))
            X_val, y_val = X[perm[:n_val]], y[perm[:n_val]]
            X_tr, y_tr = X[perm[n_val:]], y[perm[n_val:]]
            validation_source = f"{n_val} rows held out of train (20%)"
        else:
            X_tr, y_tr, X_val, y_val = X, y, X, y
            validation_source = "train (fewer than 10 rows)"
        n = X_tr.shape[0]

        # Scaler statistics from a sample of num_point_for_scaler rows.
        sample = rng.choice(n, size=min(n, hp["num_point_for_scaler"]), replace=False)
        Xs = X_tr[sample].astype(np.float64)
        mu = Xs.mean(axis=0) if hp["unbias_data"] else np.zeros(d)
        sd = Xs.std(axis=0) if hp["normalize_data"] else np.ones(d)
        sd = np.where((sd > 1e-12) & np.isfinite(sd), sd, 1.0)
        mu_y, sd_y = 0.0, 1.0
        if hp["predictor_type"] == "regressor":
            ys = y_tr[sample]
            if hp["unbias_label"]:
                mu_y = float(ys.mean())
            if hp["normalize_label"]:
                sd_y = float(ys.std()) if ys.std() > 1e-12 else 1.0
        self.scaler_ = {"mean": mu.tolist(), "std": sd.tolist(), "label_mean": mu_y, "label_std": sd_y}

        grid = self._model_grid()
        M, K = hp["num_models"], self._out
        say(f"#linear_learner: predictor_type={hp['predictor_type']} loss={hp['loss']} optimizer={hp['optimizer']} "
            f"feature_dim={d} train_rows={n} validation={validation_source} num_models={M} "
            f"mini_batch_size={hp['mini_batch_size']} epochs={hp['epochs']}")

        torch.manual_seed(hp["seed"])
        gen = torch.Generator().manual_seed(hp["seed"])
        mu32, sd32 = mu.astype(np.float32), sd.astype(np.float32)
        Xt = torch.from_numpy((X_tr - mu32) / sd32)
        Xv = torch.from_numpy((X_val - mu32) / sd32)
        yt, wt = self._targets(y_tr, mu_y, sd_y)
        yv_raw = torch.from_numpy(y_val)

        # Parameters of all models: column block m*K:(m+1)*K belongs to model m.
        if hp["init_method"] == "uniform":
            W = (torch.rand(d, M * K, generator=gen) * 2 - 1) * hp["init_scale"]
        else:
            W = torch.randn(d, M * K, generator=gen) * hp["init_sigma"]
        b = torch.full((M * K,), hp["init_bias"] if hp["use_bias"] else 0.0)
        rep = lambda key: torch.tensor([g[key] for g in grid], dtype=torch.float32).repeat_interleave(K)  # noqa: E731
        lr0, wd, l1 = rep("learning_rate"), rep("wd"), rep("l1")
        min_lr = torch.clamp(lr0, max=hp["lr_scheduler_minimum_lr"]) if hp["lr_scheduler_minimum_lr"] > 0 \
            else torch.zeros_like(lr0)
        has_wd, has_l1 = bool((wd > 0).any()), bool((l1 > 0).any())
        state = _OptimizerState(hp, W, b)

        B = min(hp["mini_batch_size"], n)
        steps_per_epoch = math.ceil(n / B)
        sched_step = hp["lr_scheduler_step"] or steps_per_epoch
        best_W, best_b = W.clone(), b.clone()
        best_loss = torch.full((M,), float("inf"), dtype=torch.float64)
        best_metrics: list[dict[str, float]] = [{} for _ in range(M)]
        best_epoch = [0] * M
        history = []
        global_best = float("inf")
        stale = 0
        step = 0
        lr = lr0.clone()
        objective = OBJECTIVE_NAMES[hp["loss"]]
        epoch = 0
        for epoch in range(hp["epochs"]):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen)
            Xe = Xt.index_select(0, perm)
            ye = yt.index_select(0, perm)
            we = wt.index_select(0, perm) if wt is not None else None
            for start in range(0, n, B):
                if hp["use_lr_scheduler"] and step > 0 and step % sched_step == 0:
                    lr = torch.maximum(lr * hp["lr_scheduler_factor"], min_lr)
                xb = Xe[start:start + B]
                g = self._loss_grad(torch.addmm(b, xb, W), ye[start:start + B],
                                    None if we is None else we[start:start + B], M, K)
                inv = 1.0 / xb.shape[0]
                gW = torch.mm(xb.t(), g).mul_(inv)
                gb = g.sum(0).mul_(inv) if hp["use_bias"] else None
                if has_wd:
                    gW.addcmul_(wd, W)
                    if gb is not None and hp["bias_wd_mult"] > 0:
                        gb.addcmul_(wd, b, value=hp["bias_wd_mult"])
                step += 1
                state.step(W, gW, b, gb, lr, step)
                if has_l1:  # proximal step: soft-threshold by lr * l1
                    shrink = lr * l1
                    W.copy_(torch.sign(W) * torch.clamp(W.abs() - shrink, min=0.0))
            # Score every model on the validation set.
            metrics = self._evaluate_all(Xv, yv_raw, W, b, mu_y, sd_y, M, K)
            losses = torch.tensor([m["objective"] for m in metrics], dtype=torch.float64)
            losses = torch.where(torch.isfinite(losses), losses, torch.full_like(losses, float("inf")))
            improved = losses < best_loss
            for m in torch.nonzero(improved).flatten().tolist():
                cols = slice(m * K, (m + 1) * K)
                best_W[:, cols] = W[:, cols]
                best_b[cols] = b[cols]
                best_loss[m] = losses[m]
                best_metrics[m] = metrics[m]
                best_epoch[m] = epoch
            k = int(torch.argmin(losses))
            epoch_best = float(losses[k])
            history.append({"epoch": epoch, "model": k, **{n_: v for n_, v in metrics[k].items()}})
            say(f"#quality_metric: host={HOST}, epoch={epoch}, validation {objective} <loss>={epoch_best:.8g}")
            for name, value in metrics[k].items():
                if name != "objective":
                    kind = "loss" if name in ("mse", "rmse", "absolute_loss", "cross_entropy") else "score"
                    say(f"#quality_metric: host={HOST}, epoch={epoch}, validation {name} <{kind}>={value:.8g}")
            say(f"#progress_metric: host={HOST}, completed {100.0 * (epoch + 1) / hp['epochs']:.4g} % of epochs, "
                f"epoch_seconds={time.perf_counter() - t0:.3f}, best_model={k}")
            # Early stopping on the best model's objective, relative tolerance.
            if global_best == float("inf"):
                improvement = float("inf")
            else:
                improvement = (global_best - epoch_best) / max(abs(global_best), 1e-12)
            if improvement > hp["early_stopping_tolerance"]:
                stale = 0
            else:
                stale += 1
            global_best = min(global_best, epoch_best)
            if stale >= hp["early_stopping_patience"] and epoch + 1 < hp["epochs"]:
                say(f"#early_stopping: host={HOST}, epoch={epoch}, no relative improvement above "
                    f"{hp['early_stopping_tolerance']:g} for {stale} epoch(s); stopping")
                break
        self.epochs_trained_ = epoch + 1

        chosen = self._select(best_loss, best_metrics)
        cols = slice(chosen * K, (chosen + 1) * K)
        Wn = best_W[:, cols].double().numpy()
        bn = best_b[cols].double().numpy()
        # Fold the normalisation into the weights: raw x -> score in raw label units.
        coef = Wn / sd[:, None]
        intercept = bn - (mu / sd) @ Wn
        coef, intercept = coef * sd_y, intercept * sd_y + mu_y
        self.coef_ = coef
        self.intercept_ = intercept
        self.feature_dim_ = d
        self.n_features_in_ = d
        self.best_model_ = chosen
        self.model_hyperparameters_ = grid
        self.validation_metrics_ = {"objective_name": objective, **best_metrics[chosen]}
        self.best_epoch_ = best_epoch[chosen]
        self.history_ = history
        self.weights_ = best_W.view(d, M, K).permute(1, 0, 2).contiguous().numpy()  # [num_models, d, out]
        for name, value in best_metrics[chosen].items():
            shown = objective if name == "objective" else name
            say(f"#validation_score ({HOST}) : ('{shown}', {value:.8g})")
        say(f"#linear_learner: selected model {chosen} (learning_rate={grid[chosen]['learning_rate']:g}, "
            f"wd={grid[chosen]['wd']:g}, l1={grid[chosen]['l1']:g}) from epoch {best_epoch[chosen]}")
        return self

    def _targets(self, y: np.ndarray, mu_y: float, sd_y: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        hp = self._hp
        ptype = hp["predictor_type"]
        if ptype == "regressor":
            return torch.from_numpy(((y - mu_y) / sd_y).astype(np.float32)).view(-1, 1), None
        if ptype == "binary_classifier":
            yt = torch.from_numpy(y.astype(np.float32)).view(-1, 1)
            pw = hp["positive_example_weight_mult"]
            if pw == "balanced":
                pos = float(y.sum())
                pw = (len(y) - pos) / pos if pos > 0 else 1.0
            if pw == 1.0:
                return yt, None
            return yt, torch.where(yt > 0.5, torch.tensor(float(pw)), torch.tensor(1.0))
        yt = torch.from_numpy(y.astype(np.int64))
        if hp["balance_multiclass_weights"]:
            counts = np.bincount(y.astype(np.int64), minlength=hp["num_classes"]).astype(np.float64)
            cw = np.where(counts > 0, len(y) / (hp["num_classes"] * np.maximum(counts, 1)), 0.0)
            return yt, torch.from_numpy(cw[y.astype(np.int64)].astype(np.float32)).view(-1, 1)
        return yt, None

    def _loss_grad(self, z: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, M: int, K: int) -> torch.Tensor:
        """dLoss/dz for a batch: z ``[B, M*K]``; y ``[B, 1]`` (or ``[B]`` class indices)."""
        hp = self._hp
        loss = hp["loss"]
        if loss == "squared_loss":
            g = z.sub_(y)
        elif loss == "absolute_loss":
            g = z.sub_(y).sign_()
        elif loss == "huber_loss":
            g = z.sub_(y).clamp_(-hp["huber_delta"], hp["huber_delta"])
        elif loss == "quantile_loss":
            q = hp["quantile"]
            g = torch.where(z > y, 1.0 - q, -q)  # d/dz of max(q r, (q-1) r), r = y - z
        elif loss == "eps_insensitive_squared_loss":
            r = z.sub_(y)
            g = r.sign() * (r.abs() - hp["loss_insensitivity"]).clamp_(min=0.0)
        elif loss == "eps_insensitive_absolute_loss":
            r = z.sub_(y)
            g = r.sign() * (r.abs() > hp["loss_insensitivity"])
        elif loss == "logistic":
            g = z.sigmoid_().sub_(y)
        elif loss == "hinge_loss":
            s = y * 2 - 1
            g = -s * ((hp["margin"] - s * z) > 0)
        elif loss == "softmax_loss":
            B = z.shape[0]
            p = torch.softmax(z.view(B, M, K), dim=2)
            p.scatter_add_(2, y.view(B, 1, 1).expand(B, M, 1), torch.full((B, M, 1), -1.0))
            g = p.view(B, M * K)
        else:  # pragma: no cover - validated in _resolve
            raise NotImplementedError(f"loss {loss} is not implemented")
        if w is not None:
            g = g * w
        return g

    def _evaluate_all(self, Xv: torch.Tensor, yv: torch.Tensor, W: torch.Tensor, b: torch.Tensor,
                      mu_y: float, sd_y: float, M: int, K: int) -> list[dict[str, float]]:
        """Validation metrics of every model (raw label units); ``objective`` is the loss of ``loss``."""
        hp = self._hp
        z = torch.addmm(b, Xv, W).double()
        ptype, loss = hp["predictor_type"], hp["loss"]
        out: list[dict[str, float]] = []
        if ptype == "regressor":
            pred = z * sd_y + mu_y  # [n, M]
            r = pred - yv.view(-1, 1)
            mse = (r * r).mean(0)
            mae = r.abs().mean(0)
            if loss == "squared_loss":
                obj = mse
            elif loss == "absolute_loss":
                obj = mae
            elif loss == "huber_loss":
                dlt = hp["huber_delta"]
                a = r.abs()
                obj = torch.where(a <= dlt, 0.5 * r * r, dlt * (a - 0.5 * dlt)).mean(0)
            elif loss == "quantile_loss":
                q = hp["quantile"]
                e = -r
                obj = torch.maximum(q * e, (q - 1) * e).mean(0)
            elif loss == "eps_insensitive_squared_loss":
                obj = ((r.abs() - hp["loss_insensitivity"]).clamp(min=0) ** 2).mean(0)
            else:
                obj = (r.abs() - hp["loss_insensitivity"]).clamp(min=0).mean(0)
            for m in range(M):
                out.append({"objective": float(obj[m]), "mse": float(mse[m]), "rmse": math.sqrt(float(mse[m])),
                            "absolute_loss": float(mae[m])})
        elif ptype == "binary_classifier":
            y = yv.view(-1, 1)
            if loss == "logistic":
                obj = torch.nn.functional.binary_cross_entropy_with_logits(
                    z, y.expand_as(z), reduction="none").mean(0)
            else:
                s = y * 2 - 1
                obj = (hp["margin"] - s * z).clamp(min=0).mean(0)
            pred = (z > 0).double()
            tp = (pred * y).sum(0)
            fp = (pred * (1 - y)).sum(0)
            fn = ((1 - pred) * y).sum(0)
            acc = (pred == y).double().mean(0)
            beta2 = hp["f_beta"] ** 2
            prec = tp / torch.clamp(tp + fp, min=1)
            rec = tp / torch.clamp(tp + fn, min=1)
            fb = (1 + beta2) * prec * rec / torch.clamp(beta2 * prec + rec, min=1e-12)
            for m in range(M):
                out.append({"objective": float(obj[m]), "binary_classification_accuracy": float(acc[m]),
                            "precision": float(prec[m]), "recall": float(rec[m]), "binary_f_beta": float(fb[m])})
        else:
            n = z.shape[0]
            logits = z.view(n, M, K)
            y = yv.long()
            logp = torch.log_softmax(logits, dim=2)
            obj = -logp.gather(2, y.view(n, 1, 1).expand(n, M, 1)).squeeze(2).mean(0)
            acc = (logits.argmax(2) == y.view(n, 1)).double().mean(0)
            topk = min(hp["accuracy_top_k"], K)
            top = logits.topk(topk, dim=2).indices
            acck = (top == y.view(n, 1, 1)).any(2).double().mean(0)
            for m in range(M):
                out.append({"objective": float(obj[m]), "multiclass_accuracy": float(acc[m]),
                            "multiclass_top_k_accuracy": float(acck[m])})
        return out

    def _select(self, best_loss: torch.Tensor, best_metrics: list[dict[str, float]]) -> int:
        hp = self._hp
        candidates = [m for m in range(len(best_metrics)) if best_metrics[m]]
        if not candidates:
            raise DataError("training diverged: no model produced a finite validation loss "
                            "(try a smaller learning_rate or normalize_data=true)")
        if hp["predictor_type"] == "binary_classifier":
            crit = hp["binary_classifier_model_selection_criteria"]
            if crit in ("accuracy", "f_beta"):
                key = "binary_classification_accuracy" if crit == "accuracy" else "binary_f_beta"
                return max(candidates, key=lambda m: (best_metrics[m][key], -float(best_loss[m])))
        return min(candidates, key=lambda m: float(best_loss[m]))

    # ------------------------------------------------------------------ prediction

    def _require_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("LinearLearner is not fitted; call fit() or LinearLearner.load()")

    def decision_function(self, X: Any) -> np.ndarray:
        self._require_fitted()
        X = self._check_X(X, "prediction data", self.feature_dim_).astype(np.float64)
        return X @ self.coef_ + self.intercept_

    def predict(self, X: Any) -> dict[str, np.ndarray]:
        """``score`` (regression value, P(label=1), or class probabilities) and ``predicted_label``."""
        z = self.decision_function(X)
        return self._scores(z)

    def _scores(self, z: np.ndarray) -> dict[str, np.ndarray]:
        hp = self._hp
        ptype = hp["predictor_type"]
        if ptype == "regressor":
            return {"score": z[:, 0]}
        if ptype == "binary_classifier":
            if hp["loss"] == "logistic":
                score = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -500, 500)))
                return {"score": score, "predicted_label": (score > 0.5).astype(np.int64)}
            return {"score": z[:, 0], "predicted_label": (z[:, 0] > 0).astype(np.int64)}
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return {"score": p, "predicted_label": p.argmax(axis=1).astype(np.int64)}

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """Metrics of the fitted model on ``(X, y)`` (the test channel's ``#test_score`` lines)."""
        self._require_fitted()
        X = self._check_X(X, "test data", self.feature_dim_)
        y = self._check_y(y, X.shape[0], "test data")
        K = self._out
        W = torch.from_numpy(self.coef_.astype(np.float32))
        b = torch.from_numpy(self.intercept_.astype(np.float32))
        metrics = self._evaluate_all(torch.from_numpy(X), torch.from_numpy(y), W, b, 0.0, 1.0, 1, K)[0]
        metrics[OBJECTIVE_NAMES[self._hp["loss"]]] = metrics.pop("objective")
        return metrics

    # ------------------------------------------------------------------ persistence

    def save(self, model_dir: str | Path) -> Path:
        """Write ``model.json``: hyperparameters, weights as lists, metrics. No pickle."""
        self._require_fitted()
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": "openmaker-linear-learner",
            "format_version": FORMAT_VERSION,
            "hyperparameters": {k: (v if isinstance(v, (bool, int, float, str)) or v is None else str(v))
                                for k, v in self._raw.items()},
            "resolved": {k: v for k, v in self._hp.items()},
            "predictor_type": self._hp["predictor_type"],
            "loss": self._hp["loss"],
            "feature_dim": self.feature_dim_,
            "num_classes": self._hp["num_classes"],
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            "best_model": self.best_model_,
            "best_epoch": self.best_epoch_,
            "epochs_trained": self.epochs_trained_,
            "model_hyperparameters": self.model_hyperparameters_,
            "validation_metrics": self.validation_metrics_,
            "scaler": self.scaler_,
        }
        path = model_dir / MODEL_FILE
        path.write_text(json.dumps(doc, indent=1))
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> "LinearLearner":
        path = Path(model_dir)
        if path.is_dir():
            path = path / MODEL_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no Linear Learner model at {path}") from None
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
        if doc.get("format") != "openmaker-linear-learner":
            raise ValueError(f"{path} is not an openmaker Linear Learner model")
        if int(doc.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{path} has format_version {doc['format_version']}; this openmaker reads "
                             f"up to {FORMAT_VERSION}")
        names = set(cls.hyperparameter_names())
        est = cls(**{k: v for k, v in doc["hyperparameters"].items() if k in names})
        est.coef_ = np.asarray(doc["coef"], dtype=np.float64).reshape(doc["feature_dim"], -1)
        est.intercept_ = np.asarray(doc["intercept"], dtype=np.float64).reshape(-1)
        est.feature_dim_ = est.n_features_in_ = int(doc["feature_dim"])
        est.best_model_ = doc.get("best_model", 0)
        est.best_epoch_ = doc.get("best_epoch", 0)
        est.epochs_trained_ = doc.get("epochs_trained", 0)
        est.model_hyperparameters_ = doc.get("model_hyperparameters", [])
        est.validation_metrics_ = doc.get("validation_metrics", {})
        est.scaler_ = doc.get("scaler", {})
        return est


class _OptimizerState:
    """Adam, SGD with momentum or RMSProp over the weight matrix and the bias vector, with per-column lr."""

    def __init__(self, hp: dict[str, Any], W: torch.Tensor, b: torch.Tensor) -> None:
        self.kind = hp["optimizer"]
        self.beta1, self.beta2 = hp["beta_1"], hp["beta_2"]
        self.momentum = hp["momentum"]
        self.bias_lr_mult = hp["bias_lr_mult"]
        self.eps = 1e-8
        self.mW, self.vW = torch.zeros_like(W), torch.zeros_like(W)
        self.mb, self.vb = torch.zeros_like(b), torch.zeros_like(b)

    def step(self, W, gW, b, gb, lr, t: int) -> None:
        self._update(W, gW, self.mW, self.vW, lr, t)
        if gb is not None:
            self._update(b, gb, self.mb, self.vb, lr * self.bias_lr_mult, t)

    def _update(self, p, g, m, v, lr, t: int) -> None:
        if self.kind == "adam":
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            bc1 = 1 - self.beta1 ** t
            bc2 = 1 - self.beta2 ** t
            denom = v.div(bc2).sqrt_().add_(self.eps)
            p.addcdiv_(m * (lr / bc1), denom, value=-1.0)
        elif self.kind == "rmsprop":
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            p.addcdiv_(g * lr, v.sqrt().add_(self.eps), value=-1.0)
        else:  # sgd with momentum
            m.mul_(self.momentum).add_(g)
            p.sub_(m * lr)
