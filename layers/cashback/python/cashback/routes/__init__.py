"""The handlers' route modules: Powertools Routers a handler includes with one line, each a
set of routes that parse a request, call one service and shape the reply, as handlers do."""
