"""Pairwise precision and recall of person_id against `cdp generate`'s truth (printed; README reports them).

The generated population has duplicate CRM records corrupted in every field (one to five
per duplicated person, no shared e-mail or phone). Two strangers who share only a surname,
a birth date and a city are added to it, and must stay two persons.
"""

from __future__ import annotations

import csv

import pytest

from cdp.generate import generate
from cdp.identity_eval import crm_record_quality, pairwise_quality

from .conftest import build_into, query

pytestmark = pytest.mark.slow

TYPO = "crm_duplicate_with_typo"
# Different first names, e-mails, postcodes, streets and CRM ids; same surname, birth date and city.
STRANGERS = [
    {"customer_id": "S0000001", "email": "amelia.north@example.org", "first_name": "Amelia", "last_name": "Hughes",
     "birth_date": "1984-06-02", "street": "3 Station Road", "city": "Leeds", "postal_code": "LS6 2QT"},
    {"customer_id": "S0000002", "email": "rhughes@example.net", "first_name": "Robert", "last_name": "Hughes",
     "birth_date": "1984-06-02", "street": "81 Manor Way", "city": "Leeds", "postal_code": "LS17 8BD"},
]  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    raw = root / "raw"
    generate(2000, 11, raw)
    with (raw / "crm_customers.csv").open(newline="") as handle:
        fields = csv.DictReader(handle).fieldnames
    with (raw / "crm_customers.csv").open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        for stranger in STRANGERS:
            writer.writerow({**stranger, "country": "GB", "created_at": "2025-01-01T00:00:00Z"})
    warehouse = root / "cdp.duckdb"
    build_into(warehouse, raw, "2026-11-20T00:00:00Z")
    return warehouse, raw / "truth.csv"


def test_person_id_matches_the_truth(generated):
    warehouse, truth = generated
    everyone = pairwise_quality(warehouse, truth)
    exact_without_typos = pairwise_quality(warehouse, truth, "exact", TYPO, exclude=True)
    typo_exact = pairwise_quality(warehouse, truth, "exact", TYPO)
    typo_person = pairwise_quality(warehouse, truth, "person", TYPO)
    with truth.open(newline="") as handle:
        crm_truth = {row["source_key"]: row["person_ref"] for row in csv.DictReader(handle)}
    crm_truth = {key: person for key, person in crm_truth.items() if key[:1] in "CD"}
    crm = crm_record_quality(warehouse, crm_truth)
    print(
        f"\n2,000 generated persons"
        f"\n  person_id (exact + probabilistic links), all rows:        {everyone}"
        f"\n  exact links only, persons without a duplicate CRM record: {exact_without_typos}"
        f"\n  duplicate CRM records with typos, exact links only:       {typo_exact}"
        f"\n  duplicate CRM records with typos, with Splink:            {typo_person}"
        f"\n  CRM records alone, with Splink:                           {crm}"
    )
    assert everyone.precision >= 0.98 and everyone.recall >= 0.97
    # Below 1 by design of the generated hard cases, which exact links cannot tell apart at
    # 2,000 persons: a family card paid with by two members who hold no CRM record (the
    # merge keeps within the limits of 2 loyalty cards and 3 e-mails), a shared family
    # device, and a store's phone typed on fewer receipts than the hub threshold. More
    # receipts per person in the generator's purchase histories brought these from
    # 0.996 / 1.000 to about 0.986 / 0.988. Recall misses are mostly web and app sessions
    # that never log in or check out: nothing links them to their person.
    assert exact_without_typos.precision >= 0.98 and exact_without_typos.recall >= 0.98
    assert typo_person.recall > typo_exact.recall
    # below the benchmark's targets (0.95, 0.90), so that a small population does not make it flaky
    assert crm.precision >= 0.9 and crm.recall >= 0.8


def test_the_model_is_estimated_on_the_generated_crm(generated):
    warehouse, _ = generated
    sources = query(
        warehouse,
        """select fit_status, m_source, u_source, count(*) from marts.fct_identity_match_model_fits
           where not is_null_level group by all order by all""",
    )
    assert {status for status, *_ in sources} == {"trained"}
    estimated = sum(count for _, m, u, count in sources if m == "expectation_maximisation" and u == "random_sampling")
    assert estimated >= 20, sources


def test_strangers_sharing_surname_birth_date_and_city_stay_two_persons(generated):
    warehouse, _ = generated
    persons = query(
        warehouse,
        """select distinct person_id from marts.bdg_person_identifiers
           where identifier_type = 'crm_customer_id' and identifier_value in ('S0000001', 'S0000002')""",
    )
    assert len(persons) == 2
