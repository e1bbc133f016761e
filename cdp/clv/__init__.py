"""Predicted customer lifetime value: BG/NBD repeat purchases and Gamma-Gamma spend.

``models`` holds the statistics (plain numpy/scipy, no warehouse); ``step`` reads the
per-person purchase summary from the warehouse, fits both models and writes the
parameters and per-person predictions back for dbt to pick up.
"""
