"""Pairwise precision and recall of person_id against `cdp generate`'s truth (printed; README reports them)."""

from __future__ import annotations

import pytest

from cdp.generate import generate
from cdp.identity_eval import pairwise_quality

from .conftest import build_into

pytestmark = pytest.mark.slow

TYPO = "crm_duplicate_with_typo"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    generate(2000, 11, root / "raw")
    warehouse = root / "cdp.duckdb"
    build_into(warehouse, root / "raw", "2026-11-20T00:00:00Z")
    return warehouse, root / "raw" / "truth.csv"


def test_person_id_matches_the_truth(generated):
    warehouse, truth = generated
    everyone = pairwise_quality(warehouse, truth)
    exact_without_typos = pairwise_quality(warehouse, truth, "exact", TYPO, exclude=True)
    typo_exact = pairwise_quality(warehouse, truth, "exact", TYPO)
    typo_person = pairwise_quality(warehouse, truth, "person", TYPO)
    print(
        f"\n2,000 generated persons"
        f"\n  person_id (exact + probabilistic links), all rows:        {everyone}"
        f"\n  exact links only, persons without a duplicate CRM record: {exact_without_typos}"
        f"\n  duplicate CRM records with typos, exact links only:       {typo_exact}"
        f"\n  duplicate CRM records with typos, with Splink:            {typo_person}"
    )
    assert everyone.precision >= 0.99 and everyone.recall >= 0.99
    assert exact_without_typos.precision >= 0.99 and exact_without_typos.recall >= 0.99
    assert typo_person.recall > typo_exact.recall
    assert typo_person.precision >= 0.99
