"""Tools for developers and operators: the CLI, the local stack, the demo and the generators
of docs/. Installed in the development environment and for operators; never in a Lambda layer."""
