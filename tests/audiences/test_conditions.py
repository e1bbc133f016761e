"""Conditions of audiences.yml: what the checker refuses (each message names the audience and
the part at fault) and what a valid condition becomes on DuckDB and on Spark."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
import sqlglot

from cdp.audiences import AudienceError, compile_condition

AS_OF = datetime(2026, 11, 20, 9, 0, 0)
PROFILE = {
    "person_id": "VARCHAR",
    "lifetime_value": "DECIMAL(18,2)",
    "last_purchase_at": "TIMESTAMP",
    "lifecycle_stage": "VARCHAR",
    "is_near_next_tier": "BOOLEAN",
    "email": "VARCHAR",
    "product_views_7d": "BIGINT",
    "purchases_30d": "BIGINT",
}


def refusal(condition: str) -> str:
    with pytest.raises(AudienceError) as raised:
        compile_condition("lapsed_vips", condition, PROFILE, "duckdb", AS_OF)
    message = str(raised.value)
    assert message.startswith("audiences.yml: audience lapsed_vips: condition"), message
    return message


@pytest.mark.parametrize(
    "condition, part",
    [
        # unknown column, with the closest known one
        ("lifetime_valu > 500", "unknown column lifetime_valu (did you mean lifetime_value?)"),
        ("loyalty_points > 10", "unknown column loyalty_points"),
        # a table name in front of a column
        ("persons.lifetime_value > 500", "persons.lifetime_value: write columns without a table name"),
        # not a boolean: the whole condition, or one side of and/or/not
        ("lifetime_value + 1", "is not true or false: it is a number (decimal"),
        ("lifecycle_stage", "is not true or false: it is text"),
        (
            "lifetime_value and is_near_next_tier",
            "lifetime_value is a number (decimal(18, 2)), not true or false, in AND",
        ),
        ("not email", "email is text, not true or false, in NOT"),
        # a subquery, in any place
        ("lifetime_value > (select avg(lifetime_value) from marts.dim_persons)", "a subquery"),
        ("exists (select 1 from marts.dim_persons)", "a subquery"),
        ("email in (select email from raw.crm_customers)", "a subquery"),
        # statements instead of an expression
        ("drop table marts.dim_persons", "is a statement (DROP ...)"),
        ("delete from marts.dim_persons", "is a statement (DELETE ...)"),
        ("select 1", "is a statement (SELECT ...)"),
        ("insert into marts.dim_persons values (1)", "is a statement (INSERT ...)"),
        ("truncate table marts.dim_persons", "is a statement (TRUNCATE ...)"),
        ("attach 'other.duckdb'", "is a statement (ATTACH ...)"),
        ("install httpfs", "is a statement (INSTALL ...)"),
        ("values (true)", "is a statement (VALUES ...)"),
        # a second statement, or a semicolon
        ("lifetime_value > 500; drop table marts.dim_persons", "a second statement after ';' (DROP TABLE"),
        ("lifetime_value > 500;", "a semicolon"),
        # functions off the allow-list: impure, aggregate, unknown, the clock
        ("random() < 0.5", "function rand"),
        ("count(*) > 1", "aggregate COUNT(*)"),
        ("sum(lifetime_value) > 1", "aggregate SUM(lifetime_value)"),
        ("my_udf(email)", "function my_udf"),
        ("read_csv('x.csv') is not null", "function read_csv"),
        ("last_purchase_at > now() - interval 1 day", "NOW() asks for the time; use as_of"),
        ("last_purchase_at > current_date", "CURRENT_DATE asks for the time; use as_of"),
        # text that does not parse
        ("lifetime_value >", "does not parse"),
    ],
)
def test_a_bad_condition_is_refused_naming_audience_and_part(condition, part):
    assert part in refusal(condition)


def test_a_semicolon_inside_a_string_is_text():
    sql, columns = compile_condition("odd_addresses", "email like '%;%'", PROFILE, "duckdb", AS_OF)
    assert (sql, columns) == ("email LIKE '%;%'", ("email",))


def test_the_function_message_lists_what_is_allowed():
    message = refusal("md5(email) = 'x'")
    assert "function md5" in message and "coalesce" in message and "date_diff" in message


VALID = (
    "lifetime_value > 500 and last_purchase_at < as_of - interval 90 days"
    " and lower(email) like '%@example.com' and coalesce(is_near_next_tier, false) = false"
)


def test_a_valid_condition_compiles_to_duckdb_and_spark_with_the_as_of_in_place():
    duckdb_sql, columns = compile_condition("lapsed_vips", VALID, PROFILE, "duckdb", AS_OF)
    spark_sql, spark_columns = compile_condition("lapsed_vips", VALID, PROFILE, "spark", AS_OF)
    assert columns == spark_columns == ("lifetime_value", "last_purchase_at", "email", "is_near_next_tier")
    for sql in (duckdb_sql, spark_sql):
        assert "as_of" not in sql.lower()
        assert "CAST('2026-11-20 09:00:00' AS TIMESTAMP)" in sql
    assert "INTERVAL '90' DAYS" in spark_sql
    # Each is one expression of its own dialect.
    assert isinstance(sqlglot.parse_one(spark_sql, read="spark"), sqlglot.exp.And)
    assert isinstance(sqlglot.parse_one(duckdb_sql, read="duckdb"), sqlglot.exp.And)


def test_the_compiled_condition_selects_the_right_persons_on_duckdb():
    duckdb_sql, _ = compile_condition("lapsed_vips", VALID, PROFILE, "duckdb", AS_OF)
    with duckdb.connect() as conn:
        conn.execute(
            """create table profile as select * from (values
                ('lapsed vip', 900.0, timestamp '2026-06-01 10:00:00', 'a@example.com', false),
                ('recent vip', 900.0, timestamp '2026-11-01 10:00:00', 'b@example.com', false),
                ('lapsed, small', 100.0, timestamp '2026-06-01 10:00:00', 'c@example.com', false),
                ('other domain', 900.0, timestamp '2026-06-01 10:00:00', 'd@example.org', false),
                ('near next tier', 900.0, timestamp '2026-06-01 10:00:00', 'E@Example.com', true),
                ('no tier known', 900.0, timestamp '2026-06-01 10:00:00', 'f@example.com', null)
            ) as profile(person_id, lifetime_value, last_purchase_at, email, is_near_next_tier)"""
        )
        chosen = conn.execute(f"select person_id from profile where {duckdb_sql} order by person_id").fetchall()
    assert chosen == [("lapsed vip",), ("no tier known",)]


def test_spark_types_are_read_in_spark_terms():
    spark_profile = {"lifetime_value": "decimal(18,2)", "purchases_30d": "bigint", "last_purchase_at": "timestamp"}
    sql, _ = compile_condition(
        "quiet", "purchases_30d = 0 and date_diff('day', last_purchase_at, as_of) > 30", spark_profile, "spark", AS_OF
    )
    assert sql.startswith("purchases_30d = 0 AND DATEDIFF(DAY, last_purchase_at, CAST('2026-11-20 09:00:00'")
    with pytest.raises(AudienceError, match=r"is not true or false: it is a number \(bigint\)"):
        compile_condition("quiet", "purchases_30d * 2", spark_profile, "spark", AS_OF)
