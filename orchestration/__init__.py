"""Dagster definitions: thin wrappers around the dbt project and the Python steps."""
