"""Measurement, not on the answering path: quality (`eval`), speed (`bench`, `scale`),
generated corpora (`generate`) and the Milvus comparison (`milvus_bench`)."""
