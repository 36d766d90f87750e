"""Benchmarks of Partnerflow: `make bench` / `python -m bench --help`.

Each benchmark compares the product with a bare Temporal baseline measured in the same run
on the same dev server, and reports the ratio (see bench/README.md).
"""
