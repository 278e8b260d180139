"""Full-text search over everything agents said and saw (see index.py)."""
