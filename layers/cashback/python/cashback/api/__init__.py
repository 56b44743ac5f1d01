"""The HTTP boundary: request and reply models and the shared resolver setup."""
