"""Ask: offline natural-language questions about the homelab, answered from the store.

The path is text -> normalise -> match an intent (templates, then TF-IDF) with slots
filled from names that really exist -> a typed read-only handler -> a cached answer.
Everything here is pure Python over the standard library so ``homelab-ops ask`` starts
fast: no pyinfra, numpy or pydantic on this path.
"""
