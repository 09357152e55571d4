"""Faker text in the locale's own script: words, sentences, names, addresses, dates, numbers."""

from __future__ import annotations

import re

import pytest

from synth.errors import ConfigError
from synth.ocr.generator import OcrGenerator, text_warnings
from synth.ocr.scripts import NATIVE_DIGITS, is_letter, locale_script, script_of
from synth.ocr.spec import TextSpec, build_spec
from synth.ocr.text import TextSource, _word_list, lorem_words
from synth.rng import sample_rng

KINDS = ["sentence", "words", "name", "address", "company", "date", "number"]
LOCALES = {
    "ar_AA": "arabic",
    "ar_SA": "arabic",
    "hi_IN": "devanagari",
    "zh_CN": "cjk",
    "ja_JP": "cjk",
    "ru_RU": "cyrillic",
    "el_GR": "greek",
    "he_IL": "hebrew",
    "th_TH": "thai",
    "en_US": "latin",
    "de_DE": "latin",
    "fr_FR": "latin",
}


@pytest.mark.parametrize(("locale", "script"), sorted(LOCALES.items()))
def test_every_kind_is_written_in_the_locales_script(locale, script):
    assert locale_script(locale) == script
    source = TextSource(TextSpec(locales=(locale,), faker_kinds=tuple(KINDS)))
    made: dict[str, int] = {}
    for i in range(120):
        drawn = source.draw(sample_rng(5, i))
        kind = drawn.source["faker_kind"]
        if drawn.text is None:
            continue
        made[kind] = made.get(kind, 0) + 1
        letters = [ch for ch in drawn.text if is_letter(ch)]
        # no letter of another script: Faker's "Suite", "Inc" and Latin lorem are gone
        assert all(script_of(ch) in (script, "common") for ch in letters), (kind, drawn.text)
        if kind in ("sentence", "words", "name"):
            assert any(script_of(ch) == script for ch in letters), (kind, drawn.text)
    # every kind made lines (none lost to the script rule)
    assert set(made) == set(KINDS), made


def test_hindi_sentences_come_from_the_embedded_word_list():
    words, origin = lorem_words("hi_IN")
    assert origin == "asset:words/hi.txt"
    vocabulary = set(_word_list("hi"))
    assert len(vocabulary) == 1500 and words == _word_list("hi")
    source = TextSource(TextSpec(locales=("hi_IN",), faker_kinds=("sentence",)))
    ends = 0
    for i in range(30):
        text = source.draw(sample_rng(6, i)).text
        assert "." not in text  # a long sentence is cut at a word, a whole one ends in "।"
        assert all(w in vocabulary for w in text.removesuffix("।").split()), text
        ends += text.endswith("।")
    assert ends > 0


def test_languages_without_their_own_lorem_borrow_another_locales():
    assert lorem_words("ar_SA")[1] == "faker:ar_AA"
    assert lorem_words("ru_RU") == (None, "faker:ru_RU")  # Faker's own is Cyrillic
    zh = TextSource(TextSpec(locales=("zh_CN",), faker_kinds=("sentence",)))
    texts = [zh.draw(sample_rng(7, i)).text for i in range(20)]
    assert not any("." in t for t in texts) and any(t.endswith("。") for t in texts)


def test_numbers_and_dates_use_the_locales_digits_for_a_share_of_lines():
    for locale in ("ar_AA", "hi_IN", "th_TH"):
        digits, _ = NATIVE_DIGITS[locale.split("_")[0]]
        source = TextSource(TextSpec(locales=(locale,), faker_kinds=("number", "date")))
        texts = [source.draw(sample_rng(8, i)).text for i in range(60)]
        native = [t for t in texts if any(ch in digits for ch in t)]
        western = [t for t in texts if any(ch in "0123456789" for ch in t)]
        assert native and western, locale
        assert not any(any(ch in digits for ch in t) and t in western for t in texts)


def test_dates_use_the_locales_month_names():
    source = TextSource(
        TextSpec(locales=("ru_RU",), faker_kinds=("date",), length_chars_range=(4, 40))
    )
    texts = [source.draw(sample_rng(9, i)).text for i in range(60)]
    named = [t for t in texts if any(is_letter(ch) for ch in t)]
    assert named and all(script_of(ch) == "cyrillic" for t in named for ch in t if is_letter(ch))
    th = TextSource(TextSpec(locales=("th_TH",), faker_kinds=("date",)))
    years = [
        int(y) for i in range(60) for y in re.findall(r"\d{4}", th.draw(sample_rng(9, i)).text)
    ]
    # ISO dates count in CE (1950-2025); Thai ones in the Buddhist Era (2493-2568)
    assert all(1950 <= y <= 2025 or 2493 <= y <= 2568 for y in years)
    assert any(y >= 2493 for y in years)


def test_a_locale_no_allowed_font_draws_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        OcrGenerator(
            build_spec(
                "clean", overrides={"text": {"locales": ["hi_IN"]}, "fonts": {"styles": ["serif"]}}
            )
        )
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("text.locales: no allowed font in ")
    assert "draws devanagari letters, which locale 'hi_IN' writes in" in message


@pytest.mark.parametrize(
    ("locale", "first"),
    [
        ("ko_KR", "U+AC15 '강'"),  # CJK by block, but Hangul, which the CJK font lacks
        ("hy_AM", "U+0531 'Ա'"),  # Armenian: no script a font is tagged for
        ("ka_GE", "U+10D0 'ა'"),  # Georgian
        ("bn_BD", "U+0985 'অ'"),  # Bengali
    ],
)
def test_a_locale_whose_own_letters_no_font_draws_is_a_one_line_error(locale, first):
    # not a dataset of dates and numbers: the names and words of the locale cannot be drawn
    with pytest.raises(ConfigError) as err:
        OcrGenerator(build_spec("default", overrides={"text": {"locales": [locale]}}))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"text.locales: no allowed font in {_fonts_dir()} draws the letters locale '{locale}' "
        f"writes its names and words in ({first}, "
    )


def _fonts_dir():
    from synth.assets import embedded_dir

    return embedded_dir("fonts")


def test_rejections_are_counted_per_text_kind_and_warned_above_ten_percent():
    # sentences are cut to nothing by a charset without their letters; names are kept
    gen = OcrGenerator(
        build_spec(
            "clean",
            overrides={
                "text": {
                    "faker_kinds": ["sentence", "number"],
                    "charset": "0123456789,.+%",
                    "length_chars_range": [3, 20],
                }
            },
        )
    )
    rejections: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for i in range(30):
        r = gen.sample(i, sample_rng(10, i))
        for k, v in r["rejections"].items():
            rejections[k] = rejections.get(k, 0) + v
        kind = gen.describe(r, gen.compose(r).outputs)["text_kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"number": 30}
    per_kind = sum(v for k, v in rejections.items() if k.endswith(":text_too_short"))
    assert per_kind == rejections["text_too_short"] > 0
    assert rejections["text:sentence:text_too_short"] > 0
    warned = text_warnings(rejections, {"text_kind": kinds})
    by_kind = {w["file"]: w["reason"] for w in warned}
    bad = rejections["text:sentence:text_too_short"]
    assert by_kind["text kind 'sentence'"] == (
        f"{bad} of {bad} draws rejected (100%: text_too_short={bad})"
    )
    short = rejections.get("text:number:text_too_short", 0)  # "5%" is under 3 characters
    assert ("text kind 'number'" in by_kind) == (short / (short + 30) > 0.10)
    # at or under 10%: no warning
    assert text_warnings({"text:name:x": 1}, {"text_kind": {"name": 9}}) == []
    assert text_warnings({"text:name:x": 2}, {"text_kind": {"name": 9}}) != []


def test_a_build_records_text_kinds_and_warns_of_a_kind_mostly_rejected(tmp_path):
    import json

    from synth.catalog import open_catalog
    from synth.engine.build import build, prepare

    config = {
        "text": {
            "faker_kinds": ["sentence", "number"],
            "charset": "0123456789,.+%",
            "length_chars_range": [3, 20],
        },
        "shard_size": 10,
    }
    spec = build_spec("clean", config).model_dump(mode="json")
    home = tmp_path / "home"
    plan, gen = prepare("ocr", spec, seed=3, count=10, name="kinds", home=home)
    catalog = open_catalog(home)
    try:
        build(plan, gen, catalog)
    finally:
        catalog.close()
    info = json.loads((plan.out_dir / "dataset.json").read_text(encoding="utf-8"))
    stats = info["statistics"]
    assert stats["counts"]["text_kind"] == {"number": 10}
    assert stats["counts"]["script"] == {"common": 10}
    bad = stats["rejections"]["text:sentence:text_too_short"]
    assert bad > 0
    warned = {s["file"]: s["reason"] for s in info["skipped_inputs"]}
    assert warned["text kind 'sentence'"] == (
        f"{bad} of {bad} draws rejected (100%: text_too_short={bad})"
    )


def test_a_locale_without_words_in_its_script_is_rejected_as_such():
    # Faker's ko_KR lorem is Latin and no Hangul word list is embedded: sentences are counted
    # as text_not_in_script (names are Hangul, and kept)
    source = TextSource(TextSpec(locales=("ko_KR",), faker_kinds=("sentence", "name")))
    reasons = {}
    for i in range(30):
        drawn = source.draw(sample_rng(11, i))
        key = (drawn.source["faker_kind"], drawn.reason)
        reasons[key] = reasons.get(key, 0) + 1
    assert {k for k in reasons if k[0] == "sentence"} == {("sentence", "text_not_in_script")}
    assert ("name", "") in reasons


def test_a_hindi_build_names_the_word_list_as_an_input_with_its_licence(tmp_path):
    import json

    from synth.assets import manifest
    from synth.catalog import open_catalog
    from synth.engine.build import build, prepare
    from synth.engine.verify import verify_dataset

    spec = build_spec(
        "clean", {"text": {"locales": ["hi_IN"], "faker_kinds": ["words"]}, "shard_size": 8}
    ).model_dump(mode="json")
    home = tmp_path / "home"
    plan, gen = prepare("ocr", spec, seed=4, count=8, name="hindi", home=home)
    catalog = open_catalog(home)
    try:
        record = build(plan, gen, catalog).record
    finally:
        catalog.close()
    info = json.loads((plan.out_dir / "dataset.json").read_text(encoding="utf-8"))
    words = manifest()["words/hi.txt"]
    (ref,) = [i for i in info["inputs"] if i["uri"] == "asset:words/hi.txt"]
    assert (ref["role"], ref["sha256"], ref["licence"]) == ("texts", words.sha256, "CC-BY-SA-4.0")
    assert "CC-BY-SA-4.0" in info["licences"]
    report = verify_dataset(plan.out_dir, record.id, samples=2, record=record.to_json())
    assert report.ok and report.checked_inputs >= 2
