"""Reading a policy file's YAML and the content digest appended to its declared version."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardpilot.policy.files import content_digest, read_yaml_file, read_yaml_mapping


class SomeError(ValueError):
    pass


def test_the_digest_ignores_key_order_and_is_twelve_hex_digits() -> None:
    digest = content_digest({"b": 1, "a": "限额"})
    assert digest == content_digest({"a": "限额", "b": 1})
    assert len(digest) == 12
    assert int(digest, 16) >= 0
    assert digest != content_digest({"a": "限额", "b": 2})


def test_a_missing_file_names_the_file_and_what_the_folder_holds(tmp_path: Path) -> None:
    with pytest.raises(SomeError, match=r"x\.yaml: file not found; a folder holds x\.yaml"):
        read_yaml_file(tmp_path / "x.yaml", SomeError, "a folder holds x.yaml")


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: [1,\n", encoding="utf-8")
    with pytest.raises(SomeError, match=r"x\.yaml: not valid YAML"):
        read_yaml_file(path, SomeError, "")


def test_a_mapping_is_required_at_the_top_level_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    assert read_yaml_file(path, SomeError, "") == [1, 2]
    with pytest.raises(SomeError, match="expected a mapping at the top level"):
        read_yaml_mapping(path, SomeError, "")
    path.write_text("a: 1\n", encoding="utf-8")
    assert read_yaml_mapping(path, SomeError, "") == {"a": 1}
