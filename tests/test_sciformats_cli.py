"""`sciinstruct tasks make|list` end to end, through the real CLI entry point."""

from __future__ import annotations

from sciinstruct.cli.main import main
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Question


def test_make_writes_reproducible_questions(tmp_path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert (
        main(["tasks", "make", "translation", "--n", "4", "--seed", "9", "--out", str(first)]) == 0
    )
    assert (
        main(["tasks", "make", "translation", "--n", "4", "--seed", "9", "--out", str(second)]) == 0
    )
    rows = list(read_jsonl(first))
    assert rows == list(read_jsonl(second))
    assert len(rows) == 4
    assert all(Question.model_validate(row).answer_type == "sequence" for row in rows)


def test_make_all_with_a_user_molecule_file(tmp_path, capsys) -> None:
    molecules = tmp_path / "mine.smi"
    molecules.write_text("CCO\tethanol\nc1ccccc1\tbenzene\nC1CC(\tbroken\n")
    out = tmp_path / "all.jsonl"
    code = main(
        ["tasks", "make", "all", "--n", "1", "--out", str(out), "--molecules", str(molecules)]
    )
    assert code == 0
    rows = list(read_jsonl(out))
    from sciinstruct.generators import REGISTRY

    # `all` is every family, templates and formats alike: one row of each
    assert sorted(row["metadata"]["family"] for row in rows) == sorted(REGISTRY)
    formats = {row["source"] for row in rows if row["source"] != "sciinstruct/generators"}
    assert len(formats) == 19
    assert "mine.smi:3: invalid SMILES 'C1CC('" in capsys.readouterr().err


def test_unknown_family_is_bad_input(tmp_path, capsys) -> None:
    code = main(["tasks", "make", "gc-contnet", "--out", str(tmp_path / "x.jsonl")])
    assert code == 2
    assert "did you mean 'gc-content'" in capsys.readouterr().err


def test_list_names_every_family(capsys) -> None:
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert "reverse-complement" in out and "molecule_design" in out
