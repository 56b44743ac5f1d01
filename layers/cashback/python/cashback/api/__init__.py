"""The HTTP boundary: request and reply models, the resolver setup, the strict body reader,
and the one table that maps domain errors to HTTP statuses (statuses live only here)."""
