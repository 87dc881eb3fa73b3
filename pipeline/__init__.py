"""Pipeline: news articles -> jurisdictions, crypto tone, Beijing reciprocity signals."""
