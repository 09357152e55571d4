"""Config files and strict specs: every error is one line naming the file, the key and the value."""

from __future__ import annotations

import pytest

from synth.config import deep_merge, read_config_file, validate
from synth.errors import ConfigError
from synth.ocr.spec import OcrSpec, build_spec


def _message(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("c.toml", "shard_size = 40\n[fonts]\nsize_px_range = [20, 30]\n"),
        ("c.json", '{"shard_size": 40, "fonts": {"size_px_range": [20, 30]}}'),
        ("c.yaml", "shard_size: 40\nfonts:\n  size_px_range: [20, 30]\n"),
        ("c.yml", "shard_size: 40\nfonts:\n  size_px_range: [20, 30]\n"),
    ],
)
def test_the_three_formats_read_the_same(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert read_config_file(path) == {"shard_size": 40, "fonts": {"size_px_range": [20, 30]}}


def test_an_empty_file_is_an_empty_config(tmp_path):
    for name in ("e.toml", "e.yaml"):
        (tmp_path / name).write_text("")
        assert read_config_file(tmp_path / name) == {}
    (tmp_path / "e.json").write_text("")
    with pytest.raises(ConfigError, match=r"e\.json: not valid JSON: Expecting value"):
        read_config_file(tmp_path / "e.json")


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf{"shard_size": 40}')
    assert read_config_file(path) == {"shard_size": 40}


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "bad.toml",
            "shard_size = \n",
            "bad.toml: not valid TOML: Invalid value (at line 1, column 14)",
        ),
        ("bad.json", '{"shard_size": 40,}', "bad.json: not valid JSON: Expecting property name"),
        (
            "bad.yaml",
            "a: [1\n",
            "bad.yaml: not valid YAML: expected ',' or ']', but got '<stream end>' at line 2",
        ),
        (
            "list.yaml",
            "- 1\n- 2\n",
            "list.yaml: expected a table/object at the top level, got list",
        ),
        ("num.json", "3", "num.json: expected a table/object at the top level, got int"),
        ("c.ini", "[a]\nb = 1\n", "c.ini: unknown config format '.ini' (use .toml, .json, .yaml)"),
    ],
)
def test_a_malformed_config_file_is_one_line_naming_the_file(tmp_path, name, content, expected):
    assert _read_error(tmp_path / name, content).startswith(f"{tmp_path / expected}")


def _read_error(path, text: str) -> str:
    """The one-line error of reading a config file holding ``text``."""
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    return _message(err)


def test_a_binary_file_is_not_a_config(tmp_path):
    path = tmp_path / "photo.toml"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    assert _message(err) == f"{path}: not UTF-8 text (byte 0); is it a config file?"


def test_a_missing_file_or_a_folder_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        read_config_file(tmp_path / "nope.toml")
    assert _message(err) == f"{tmp_path / 'nope.toml'}: config file not found"
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError) as err:
        read_config_file(tmp_path / "dir.toml")
    assert _message(err) == (
        f"{tmp_path / 'dir.toml'}: not a file (expected a .toml, .json or .yaml config file)"
    )


def test_an_unknown_key_is_named_with_the_keys_allowed_there():
    with pytest.raises(ConfigError) as err:
        validate(OcrSpec, {"fonts": {"sizes": [1, 2]}}, "my.toml")
    assert _message(err) == (
        "my.toml: unknown key 'fonts.sizes' (known: dir, not_for_scripts, size_px_range, styles)"
    )
    with pytest.raises(ConfigError) as err:
        validate(OcrSpec, {"bogus": 1}, "my.toml")
    assert _message(err) == (
        "my.toml: unknown key 'bogus' (known: backgrounds, color, effects, fonts, geometry, "
        "max_retries, output, shard_size, text)"
    )


def test_every_bad_field_is_named_with_its_value_in_one_line():
    with pytest.raises(ConfigError) as err:
        build_spec(
            "clean",
            {"fonts": {"size_px_range": [50, 10]}, "shard_size": 0, "geometry": {"tilt": 1}},
            source="c.toml",
        )
    message = _message(err)
    assert message.startswith("c.toml: ")
    assert (
        "fonts.size_px_range=[50, 10]: Value error, low 50 is above high 10; expected (low, high)"
        in message
    )
    assert "shard_size=0: Input should be greater than or equal to 1" in message
    assert "unknown key 'geometry.tilt'" in message


def test_a_value_of_the_wrong_type_is_named():
    with pytest.raises(ConfigError) as err:
        build_spec("default", {"effects": {"blur_prob": "often"}}, source="c.json")
    assert _message(err) == 'c.json: effects.blur_prob="often": Input should be a valid number'


@pytest.mark.parametrize(
    ("config", "named"),
    [
        # what a lax parser would have turned into 1, 3.0, True and 5 without a word
        ({"shard_size": True}, "shard_size=true: Input should be a valid integer"),
        ({"color": {"min_contrast_ratio": "3"}}, 'color.min_contrast_ratio="3": Input should'),
        ({"geometry": {"rotation_deg_range": [True, 2]}}, "rotation_deg_range.0=true: Input"),
        ({"shard_size": 5.0}, "shard_size=5.0: Input should be a valid integer"),
    ],
)
def test_values_are_not_coerced_to_the_field_type(config, named):
    with pytest.raises(ConfigError) as err:
        build_spec("default", config, source="c.yaml")
    assert named in _message(err)


def test_a_yaml_yes_is_no_number_and_text_is_no_flag(tmp_path):
    from synth.speech.spec import build_spec as speech_spec

    path = tmp_path / "s.yaml"
    path.write_text("snr_db_range: [yes, 20]\nwith_targets: 'yes'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        speech_spec(read_config_file(path), source=str(path))
    message = _message(err)
    assert "snr_db_range.0=true: Input should be a valid number" in message
    assert 'with_targets="yes": Input should be a valid boolean' in message


def test_strict_values_of_the_right_type_pass_as_before():
    # integers where numbers go, lists where ranges go, text where paths and choices go
    spec = build_spec(
        "default",
        {"geometry": {"rotation_deg_range": [-2, 2]}, "color": {"min_contrast_ratio": 4}},
    )
    assert spec.geometry.rotation_deg_range == (-2.0, 2.0)
    assert spec.color.min_contrast_ratio == 4.0


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        build_spec("fancy")
    assert _message(err) == (
        "unknown preset 'fancy' (known: clean, default, digits, document, handwriting)"
    )


def test_a_text_file_source_needs_a_path():
    with pytest.raises(ConfigError) as err:
        build_spec("default", {"text": {"source": "file"}})
    assert "source 'file' needs text.path" in _message(err)


def test_config_values_override_the_preset_and_options_override_the_config():
    spec = build_spec(
        "clean",
        {"fonts": {"size_px_range": [30, 30]}, "shard_size": 7},
        overrides={"shard_size": 9},
    )
    assert spec.fonts.size_px_range == (30, 30)
    assert spec.fonts.styles == ("serif", "sans", "mono", "condensed")  # kept from the preset
    assert spec.shard_size == 9


def test_deep_merge_leaves_its_inputs_alone():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    over = {"a": {"b": 5}, "d": [2]}
    assert deep_merge(base, over) == {"a": {"b": 5, "c": 2}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}
    assert over == {"a": {"b": 5}, "d": [2]}


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "c.yaml",
            "shard_size: 5\nshard_size: 6\n",
            "key 'shard_size' is given twice (again at line 2)",
        ),
        ("c.yaml", "text:\n  path: a\n  path: b\n", "key 'path' is given twice (again at line 3)"),
        ("c.json", '{"text": {"path": "a", "path": "b"}}', "key 'path' is given twice"),
    ],
)
def test_a_key_given_twice_is_an_error_not_the_last_value(tmp_path, name, text, problem):
    # TOML forbids it itself; JSON and YAML parsers would keep the last value without a word
    assert _read_error(tmp_path / name, text) == f"{tmp_path / name}: {problem}"


def test_a_value_with_no_json_form_names_its_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[text]\nlocales = [1979-05-27]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        build_spec("default", read_config_file(path), source=str(path))
    assert _message(err) == (
        f"{path}: text.locales.0: a date value (datetime.date(1979, 5, 27)) is not a config value"
    )


def test_yaml_merge_keys_still_work_and_a_local_key_may_override_a_merged_one(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("base: &b {count: 10, seed: 1}\nrun:\n  <<: *b\n  seed: 2\n", encoding="utf-8")
    assert read_config_file(path)["run"] == {"count": 10, "seed": 2}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("? [a, b]\n: 1\n", "not valid YAML: found unhashable key at line 1, column 3"),
    ],
)
def test_a_yaml_file_the_loader_refuses_is_one_line(tmp_path, text, problem):
    path = tmp_path / "c.yaml"
    assert _read_error(path, text) == f"{path}: {problem}"


def test_a_yaml_alias_that_contains_itself_names_its_key(tmp_path):
    from synth.speech.spec import build_spec as speech_spec

    path = tmp_path / "c.yaml"
    path.write_text("snr_db_range: &a [0, *a]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        speech_spec(read_config_file(path), source=str(path))
    assert _message(err) == f"{path}: snr_db_range.1: Circular reference detected"
