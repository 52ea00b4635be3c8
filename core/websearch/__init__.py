"""Web results as retrieval sources: the ``search`` route's results, optionally each page's text
(fetched safely), fused with the local chunks and cited by address."""
