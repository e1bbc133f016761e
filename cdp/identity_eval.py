"""Pairwise precision and recall of person_id against a generator's truth file.

Over every source row that `cdp generate` gave a true person and that carries an
admitted identifier: precision is the share of row pairs put in one person that truly
belong together, recall the share of truly-together pairs put in one person. Pairs are
counted from a contingency table (sum of n*(n-1)/2), never enumerated. Rows without a
person count as persons of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class PairwiseQuality:
    rows: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __str__(self) -> str:
        return f"precision {self.precision:.4f}, recall {self.recall:.4f}, F1 {self.f1:.4f} over {self.rows:,} rows"


# The pair counts of a `labelled` CTE (person_ref: the true person; predicted: the
# build's): rows, true pairs, predicted pairs and pairs both agree on.
PAIR_COUNTS = """cells as (select person_ref, predicted, count(*) as n from labelled group by all),
            truths as (select person_ref, sum(n) as n from cells group by all),
            predictions as (select predicted, sum(n) as n from cells group by all)
            select
                (select sum(n) from cells),
                (select sum(n * (n - 1) / 2) from truths),
                (select sum(n * (n - 1) / 2) from predictions),
                (select sum(n * (n - 1) / 2) from cells)"""

# `partition` picks the predicted cluster column of a row: person_id (exact and
# probabilistic links), or the exact cluster alone.
PARTITIONS = {
    "person": "persons.person_id",
    "exact": "exact.exact_cluster_key",
}


def pairwise_quality(
    warehouse: Path, truth_csv: Path, partition: str = "person", truth_case: str | None = None, exclude: bool = False
) -> PairwiseQuality:
    """Quality of one partition over the rows of persons with a row of `truth_case` (or, with
    `exclude`, of persons without one); all rows when no case is given."""
    predicted = PARTITIONS[partition]
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute(f"create temp table truth as select * from read_csv('{truth_csv}', all_varchar = true)")
        case_filter = (
            f"where person_ref {'not in' if exclude else 'in'} (select person_ref from truth where truth_case = ?)"
            if truth_case
            else ""
        )
        row = conn.execute(
            f"""
            with rows_in_scope as (
                select * from truth {case_filter}
            ),
            decided as (
                select r.source_model, r.source_table, r.source_key, r.person_id, r.decided_by_identifier_type,
                       o.node_key
                from intermediate.int_identity_source_row_persons as r
                join intermediate.int_identity_observations as o
                  on o.source_model = r.source_model and o.source_key = r.source_key
                 and o.identifier_type = r.decided_by_identifier_type
            ),
            labelled as (
                select t.person_ref,
                       coalesce({predicted}, 'row:' || t.source_table || ':' || t.source_key) as predicted
                from rows_in_scope as t
                left join decided as persons on persons.source_table = t.source_table
                    and persons.source_key = t.source_key
                left join intermediate.int_identity_exact_clusters as exact on exact.node_key = persons.node_key
            ),
            {PAIR_COUNTS}
            """,
            [truth_case] if truth_case else [],
        ).fetchone()
    rows, true_pairs, predicted_pairs, correct = (int(value or 0) for value in row)
    return PairwiseQuality(rows, true_pairs, predicted_pairs, correct)


def crm_record_quality(warehouse: Path, truth: dict[str, str]) -> PairwiseQuality:
    """Pairwise quality of person_id over CRM records alone, against `truth` (crm_customer_id -> true person).

    Records the build did not give a person (quarantined) count as persons of their own.
    """
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute("create temp table truth (crm_customer_id varchar, person_ref varchar)")
        conn.executemany("insert into truth values (?, ?)", list(truth.items()))
        row = conn.execute(
            f"""
            with labelled as (
                select truth.person_ref, coalesce(persons.person_id, 'record:' || truth.crm_customer_id) as predicted
                from truth
                left join marts.bdg_person_identifiers as persons
                    on persons.identifier_type = 'crm_customer_id' and persons.identifier_value = truth.crm_customer_id
            ),
            {PAIR_COUNTS}
            """
        ).fetchone()
    rows, true_pairs, predicted_pairs, correct = (int(value or 0) for value in row)
    return PairwiseQuality(rows, true_pairs, predicted_pairs, correct)
