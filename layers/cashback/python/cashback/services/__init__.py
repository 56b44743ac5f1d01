"""Use cases, one module each: they take domain inputs, return domain results and commit
through the storage ports. Handlers call exactly one of them."""
