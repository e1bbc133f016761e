"""Reverse ETL: diff-based syncs of audiences and planned messages to messaging providers (plain Python, no Dagster)."""
