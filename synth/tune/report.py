"""What a tuning job says about itself: its trials, best trial and why it stopped; its picture
(the objective by trial with the best so far, and the parameters' importances); the best
trial's build config as ``synth ocr|speech --config`` takes it."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from synth.errors import ConfigError, NotFound
from synth.tune import space
from synth.tune.study import best, counted, job_config, max_trials

PICTURE = "trials.png"


def trial_json(t: Any) -> dict[str, Any]:
    a = t.user_attrs
    out = {
        "number": t.number,
        "state": t.state.name.lower(),
        "values": a.get("values") or {},
        "params": dict(t.params),
        "objective": t.value,
        "dataset_id": a.get("dataset_id"),
        "run_id": a.get("run_id"),
        "reused_dataset": a.get("reused"),
        "total_s": a.get("total_s"),
        "build_s": a.get("build_s"),
        "command_s": a.get("command_s"),
        "started": a.get("started"),
        "ended": a.get("ended"),
        "reason": a.get("reason"),
        "trigger": a.get("trigger"),
    }
    for key in ("warm_start", "parent_trial", "retried", "retry_of"):
        if key in a:
            out[key] = a[key]
    if not out["values"] and t.params:  # a warm-start trial: its values from its parameters
        out["values"] = {
            k: (json.loads(v) if isinstance(v, str) and v[:1] == "[" else v)
            for k, v in t.params.items()
        }
    return out


def best_trial(study: Any) -> Any:
    cfg, _ = job_config(study)
    return best(study.get_trials(deepcopy=False), cfg.objective.direction)


def summary(study: Any) -> dict[str, Any]:
    """A job as ``synth tune show --json`` prints it."""
    cfg, data = job_config(study)
    trials = study.get_trials(deepcopy=False)
    best = best_trial(study)
    a = study.user_attrs
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    return {
        "job": study.study_name,
        "kind": cfg.build.kind,
        "strategy": cfg.strategy,
        "objective": {"metric": cfg.objective.metric, "direction": cfg.objective.direction},
        "max_trials": max_trials(cfg),
        "max_parallel": cfg.max_parallel,
        "trials_counted": len(counted(trials)),
        "states": states,
        "created": a.get("created"),
        "ended": a.get("ended"),
        "runtime_s": a.get("runtime_s"),
        "stopped": a.get("stopped"),
        "warm_start": a.get("warm_start") or [],
        "best": trial_json(best) if best is not None else None,
        "trials": [trial_json(t) for t in trials],
        "config": data,
    }


def list_jobs(storage: Any) -> list[dict[str, Any]]:
    import optuna

    if storage is None:
        return []
    out = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=True):
        a = s.user_attrs
        cfg = a.get("config") or {}
        best = s.best_trial
        out.append(
            {
                "job": s.study_name,
                "kind": (cfg.get("build") or {}).get("kind"),
                "strategy": cfg.get("strategy"),
                "metric": (cfg.get("objective") or {}).get("metric"),
                "trials": s.n_trials,
                "best": best.value if best is not None else None,
                "best_trial": best.number if best is not None else None,
                "stopped": a.get("stopped"),
                "created": a.get("created"),
            }
        )
    return out


# -- the picture ---------------------------------------------------------------------------------
def _importances(study: Any) -> dict[str, float]:
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 3 or len({p for t in done for p in t.params}) < 2:
        return {}
    try:
        import optuna

        return dict(optuna.importance.get_param_importances(study))
    except Exception:  # (too few distinct values, a missing optional library)
        return {}


def draw(study: Any, folder: Path) -> Path:
    """``trials.png`` in ``folder``: each finished trial's objective (pruned ones hollow), the
    best so far as a line, and the parameters' importances as bars (fANOVA, with 3 or more
    completed trials)."""
    from PIL import Image, ImageDraw

    cfg, _ = job_config(study)
    trials = [t for t in study.get_trials(deepcopy=False) if t.value is not None]
    imp = _importances(study)
    width, plot_h = 720, 320
    height = plot_h + 40 + 18 * len(imp) + (20 if imp else 0)
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, width - 20, 30, plot_h - 30
    d.text(
        (left, 8),
        f"{study.study_name}: {cfg.objective.metric} by trial ({cfg.objective.direction})",
        fill="black",
    )
    d.rectangle((left, top, right, bottom), outline="#888888")
    if trials:
        ys = [float(t.value) for t in trials]
        lo, hi = min(ys), max(ys)
        if math.isclose(lo, hi):
            lo, hi = lo - 1.0, hi + 1.0
        n_max = max(t.number for t in trials) or 1

        def pos(number: int, value: float) -> tuple[float, float]:
            x = left + 8 + (right - left - 16) * number / n_max
            y = bottom - 8 - (bottom - top - 16) * (value - lo) / (hi - lo)
            return x, y

        best_line = []
        best: float | None = None
        pick = min if cfg.objective.direction == "minimize" else max
        for t in sorted(trials, key=lambda t: t.number):
            x, y = pos(t.number, float(t.value))
            if t.state.name == "COMPLETE":
                d.ellipse((x - 3, y - 3, x + 3, y + 3), fill="#1f77b4")
                best = float(t.value) if best is None else pick(best, float(t.value))
                best_line.append(pos(t.number, best))
            else:
                d.ellipse((x - 3, y - 3, x + 3, y + 3), outline="#999999")
        if len(best_line) > 1:
            steps = []
            for (x0, y0), (x1, _) in itertools.pairwise(best_line):
                steps += [(x0, y0), (x1, y0)]
            steps.append(best_line[-1])
            d.line(steps, fill="#d62728", width=2)
        d.text((4, top), f"{hi:.4g}", fill="black")
        d.text((4, bottom - 10), f"{lo:.4g}", fill="black")
        d.text(
            (left, bottom + 6),
            f"trial 0 .. {n_max}   (dots: trials; red: best so far)",
            fill="black",
        )
    else:
        d.text((left + 10, top + 10), "no trial has an objective yet", fill="black")
    if imp:
        y = plot_h + 10
        d.text((left, y), "parameter importances (fANOVA)", fill="black")
        for name, value in imp.items():
            y += 18
            d.text((8, y), name[:22], fill="black")
            d.rectangle((200, y + 2, 200 + int(400 * value), y + 12), fill="#2ca02c")
            d.text((205 + int(400 * value), y), f"{value:.2f}", fill="black")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PICTURE
    img.save(path)
    return path


# -- the best trial's build config ---------------------------------------------------------------
def best_build(study: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
    """The best trial's build config, its hyperparameters and the trial."""
    cfg, _ = job_config(study)
    best = best_trial(study)
    if best is None:
        raise NotFound(f"tuning job '{study.study_name}': no trial completed yet")
    values = space.values(cfg, best.params)
    spec = space.base_spec(cfg)
    return space.build_config(cfg, values, spec), space.hyperparameters(cfg, values), best


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if not isinstance(v, float) or math.isfinite(v) else "nan"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ConfigError(f"a {type(v).__name__} value cannot be written to TOML")


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A config as TOML (tables, scalars and lists; ``None`` values left out)."""
    lines = []

    def tables(v: Any) -> bool:
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    for k, v in data.items():
        if v is not None and not isinstance(v, dict) and not tables(v):
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            body = to_toml(v, name + ".")
            lines.append(f"\n[{name}]\n{body}" if body.strip() else f"\n[{name}]")
        elif tables(v):
            for item in v:
                lines.append(f"\n[[{name}]]\n{to_toml(item, name + '.')}")
    return "\n".join(lines).strip("\n") + "\n"


def write_config(data: dict[str, Any], path: Path, header: str = "") -> None:
    """Write ``data`` as TOML, JSON or YAML by ``path``'s suffix."""
    suffix = path.suffix
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif suffix in (".yaml", ".yml"):
        import yaml

        text = "".join(f"# {x}\n" for x in header.splitlines()) + yaml.safe_dump(
            data, sort_keys=False, allow_unicode=True
        )
    elif suffix == ".toml":
        text = "".join(f"# {x}\n" for x in header.splitlines()) + to_toml(data)
    else:
        raise ConfigError(f"{path}: unknown config format '{suffix}' (use .toml, .json, .yaml)")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot write ({err.strerror})") from None
