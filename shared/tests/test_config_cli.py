import argparse
from dataclasses import dataclass
from typing import Literal

import pytest
from llm_shared import UserError, add_config_args, build_config, cli_entry, param


@dataclass
class TrainConfig:
    lr: float = param(3e-4, help="peak learning rate")
    method: Literal["lora", "qlora"] = param("lora", help="what to train")
    targets: list[str] = param(["q_proj", "v_proj"], help="modules to adapt")
    resume: bool = param(False, help="continue from the last checkpoint")
    name: str | None = param(None, help="run name")


def parse(argv):
    parser = argparse.ArgumentParser()
    add_config_args(parser, TrainConfig)
    return parser.parse_args(argv)


def test_defaults_file_then_flags(tmp_path):
    preset = tmp_path / "preset.toml"
    preset.write_text('lr = 0.01\nmethod = "qlora"\n[extra]\nname = "from-file"\n')
    config = build_config(TrainConfig, parse(["--config", str(preset), "--lr", "0.5"]))
    assert config == TrainConfig(lr=0.5, method="qlora", targets=["q_proj", "v_proj"],
                                 resume=False, name="from-file")


def test_types_lists_bools_choices():
    config = build_config(TrainConfig, parse(["--targets", "a", "b", "c", "--resume"]))
    assert config.targets == ["a", "b", "c"] and config.resume is True
    with pytest.raises(SystemExit):
        parse(["--method", "full"])


def test_default_lists_are_not_shared():
    a, b = TrainConfig(), TrainConfig()
    a.targets.append("o_proj")
    assert b.targets == ["q_proj", "v_proj"]


def test_unknown_key_in_file(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text("learning_rate = 1\n")
    with pytest.raises(UserError, match="unknown settings \\['learning_rate'\\]"):
        build_config(TrainConfig, parse(["--config", str(preset)]))


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1\n")
    with pytest.raises(UserError, match="not valid TOML"):
        build_config(TrainConfig, parse(["--config", str(bad)]))
    with pytest.raises(UserError, match="not found"):
        build_config(TrainConfig, parse(["--config", str(tmp_path / "none.toml")]))


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        parse(["--help"])
    out = capsys.readouterr().out
    assert "peak learning rate (default: 0.0003)" in out and "--no-resume" in out


def test_cli_entry_turns_user_error_into_one_line(capsys):
    @cli_entry
    def main(argv=None):
        raise UserError("--rank must be > 0 (got -1);\n pass a positive integer")

    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == "error: --rank must be > 0 (got -1); pass a positive integer\n"


def test_cli_entry_keeps_real_bugs_loud():
    @cli_entry
    def main(argv=None):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        main([])
