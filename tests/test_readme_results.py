"""The README's results say what the committed tables say: the claims ledger's rows,
verdicts and robustness, in the ledger's order."""

from __future__ import annotations

import pandas as pd
import pytest

from vrashlib import paths

LEDGER = paths.ROOT / "figures" / "table_claims.csv"


def readme_ledger_rows() -> list[list[str]]:
    """The cells of the README's ledger table (the one headed "| claim (paper) |")."""
    lines = (paths.ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| claim (paper) |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


@pytest.mark.skipif(not LEDGER.exists(), reason="no committed ledger")
def test_readme_ledger_has_the_committed_verdicts_in_order():
    table = pd.read_csv(LEDGER)
    rows = readme_ledger_rows()
    assert len(rows) == len(table), "one README row per claim of figures/table_claims.csv"
    for cells, (_, claim) in zip(rows, table.iterrows(), strict=True):
        verdict, robust = cells[2], cells[3]
        assert verdict.split()[0] == claim["verdict"], (claim["claim"], verdict)
        assert robust == claim["robust_across_seeds"], (claim["claim"], robust)


def test_readme_ledger_reader_finds_rows_and_stops_at_the_table_end():
    rows = readme_ledger_rows()
    assert rows and all(len(cells) == 4 for cells in rows)
